"""Entity tags: ``ETag`` on the polled GETs, ``If-None-Match`` → 304 and
``If-Match`` → 412 on the writes that take a generation.

The tag is a digest of the microversion and the exact body bytes, not the
bare provider/consumer generation: several bodies change without a
generation bump (``DELETE /allocations/{c}`` leaves provider generations
alone; aggregates set below 1.19; a resource class renamed at 1.2-1.6;
a child's ``root_provider_uuid`` after its ancestor is re-parented; the
provider generations inside a consumer's allocations). The body is built
anyway, so hashing it costs no query and the tag changes exactly when
the body does. It is a strong tag (equal tags: byte-identical bodies at
the same microversion)."""

import hashlib

import webob.exc

from placement import errors
from placement import microversion

PRECONDITION_FAILED = 'placement.precondition_failed'


def compute(req, body):
    """The quoted strong tag of ``body`` (bytes) at the request's
    microversion."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(b'%d.%d\n' % microversion.version_of(req))
    digest.update(body)
    return '"%s"' % digest.hexdigest()


def _tags(header):
    """The entity tags of an If-(None-)Match header: '*' or a list of
    (weak, quoted opaque tag)."""
    header = header.strip()
    if header == '*':
        return '*'
    tags = []
    for item in header.split(','):
        item = item.strip()
        weak = item[:2] in ('W/', 'w/')
        if weak:
            item = item[2:]
        if item:
            tags.append((weak, item))
    return tags


def none_match(req, tag):
    """True when If-None-Match names ``tag`` (weak comparison) or '*'."""
    header = req.headers.get('If-None-Match')
    if header is None:
        return False
    tags = _tags(header)
    return tags == '*' or any(opaque == tag for _weak, opaque in tags)


def wants_if_match(req):
    return 'If-Match' in req.headers


def check_if_match(req, tag):
    """412 unless If-Match is absent, '*' with a current representation
    (``tag`` not None), or names ``tag`` (strong comparison: a weak tag
    never matches). A pre-check only: the write's generation
    compare-and-set in SQL still decides races."""
    header = req.headers.get('If-Match')
    if header is None:
        return
    tags = _tags(header)
    if tag is not None and (tags == '*' or any(
            not weak and opaque == tag for weak, opaque in tags)):
        return
    raise errors.http_error(
        webob.exc.HTTPPreconditionFailed,
        'If-Match %s does not match the current entity tag %s of %s' % (
            header.strip(), tag or '(none)', req.path),
        code=PRECONDITION_FAILED)
