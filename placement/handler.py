"""The routing table: every URL of the API, its methods and handlers.

Handlers are named ``'<module>.<function>'`` under ``placement.handlers``.
A known path with an unlisted method is a 405 with ``Allow``; a handler
that does not exist (yet) answers 501.
"""

import importlib

from oslo_log import log as logging
import routes
import webob.dec
import webob.exc

from placement import errors
from placement import util

LOG = logging.getLogger(__name__)

ROUTE_DECLARATIONS = {
    '/': {'GET': 'root.home'},
    '/resource_providers': {
        'GET': 'resource_provider.list_resource_providers',
        'POST': 'resource_provider.create_resource_provider',
    },
    '/resource_providers/{uuid}': {
        'GET': 'resource_provider.get_resource_provider',
        'PUT': 'resource_provider.update_resource_provider',
        'DELETE': 'resource_provider.delete_resource_provider',
    },
    '/resource_providers/{uuid}/inventories': {
        'GET': 'inventory.get_inventories',
        'POST': 'inventory.create_inventory',
        'PUT': 'inventory.set_inventories',
        'DELETE': 'inventory.delete_inventories',
    },
    '/resource_providers/{uuid}/inventories/{resource_class}': {
        'GET': 'inventory.get_inventory',
        'PUT': 'inventory.update_inventory',
        'DELETE': 'inventory.delete_inventory',
    },
    '/resource_providers/{uuid}/usages': {
        'GET': 'usage.list_usages',
    },
    '/resource_providers/{uuid}/aggregates': {
        'GET': 'aggregate.get_aggregates',
        'PUT': 'aggregate.set_aggregates',
    },
    '/resource_providers/{uuid}/allocations': {
        'GET': 'allocation.list_for_resource_provider',
    },
    '/resource_providers/{uuid}/traits': {
        'GET': 'trait.list_traits_for_resource_provider',
        'PUT': 'trait.update_traits_for_resource_provider',
        'DELETE': 'trait.delete_traits_for_resource_provider',
    },
    '/resource_classes': {
        'GET': 'resource_class.list_resource_classes',
        'POST': 'resource_class.create_resource_class',
    },
    '/resource_classes/{name}': {
        'GET': 'resource_class.get_resource_class',
        'PUT': 'resource_class.update_resource_class',
        'DELETE': 'resource_class.delete_resource_class',
    },
    '/traits': {
        'GET': 'trait.list_traits',
    },
    '/traits/{name}': {
        'GET': 'trait.get_trait',
        'PUT': 'trait.put_trait',
        'DELETE': 'trait.delete_trait',
    },
    '/allocations': {
        'POST': 'allocation.set_allocations',
    },
    '/allocations/{consumer_uuid}': {
        'GET': 'allocation.list_for_consumer',
        'PUT': 'allocation.set_allocations_for_consumer',
        'DELETE': 'allocation.delete_allocations',
    },
    '/usages': {
        'GET': 'usage.get_total_usages',
    },
    '/allocation_candidates': {
        'GET': 'allocation_candidate.list_allocation_candidates',
    },
    '/reshaper': {
        'POST': 'reshaper.reshape',
    },
}


# Path arguments that name an entity by UUID.
UUID_ARGS = frozenset(['uuid', 'consumer_uuid'])


def _not_implemented(name):
    def handler(req):
        raise errors.http_error(webob.exc.HTTPNotImplemented,
                                '%s is not implemented yet.' % name)
    return handler


def resolve_handler(name):
    """Import ``placement.handlers.<module>`` and return the function."""
    module_name, func_name = name.rsplit('.', 1)
    try:
        module = importlib.import_module('placement.handlers.' + module_name)
    except ImportError as exc:
        if exc.name != 'placement.handlers.' + module_name:
            raise
        return _not_implemented(name)
    return getattr(module, func_name, None) or _not_implemented(name)


def make_map(declarations=ROUTE_DECLARATIONS):
    """A routes Mapper whose matches name the path template, and the
    {template: {method: handler}} table."""
    mapper = routes.Mapper()
    table = {}
    for path, methods in declarations.items():
        table[path] = {method: resolve_handler(name)
                       for method, name in methods.items()}
        mapper.connect(path, route_template=path)
    return mapper, table


class PlacementHandler(object):
    """Route a request to its handler (404 unknown path, 405 bad method)."""

    def __init__(self, config):
        self.config = config
        self.mapper, self.table = make_map()

    @webob.dec.wsgify
    def __call__(self, req):
        match = self.mapper.match(req.path_info or '/')
        if match is None:
            raise errors.not_found(None)
        handlers = self.table[match.pop('route_template')]
        allowed = sorted(handlers)
        method = req.method
        if method not in handlers:
            raise util.method_not_allowed(req, allowed)
        req.environ['placement.allowed_methods'] = allowed
        for name in UUID_ARGS.intersection(match):
            # One spelling per entity; handlers see the canonical form.
            match[name] = util.normalize_uuid(match[name]) or match[name]
        req.environ['wsgiorg.routing_args'] = ((), match)
        return handlers[method](req)
