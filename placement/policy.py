"""oslo.policy enforcement: one enforcer per process, built from the
registered defaults (placement.policies) plus ``[oslo_policy]`` overrides."""

import collections.abc
import time

from oslo_log import log as logging
from oslo_policy import opts as policy_opts
from oslo_policy import policy

from placement import policies

LOG = logging.getLogger(__name__)
_ENFORCER = None

PolicyNotAuthorized = policy.PolicyNotAuthorized

# How often (seconds) a process looks for a new or changed policy file:
# oslo.policy searches the configuration directories on every check.
POLICY_FILE_CHECK_SECONDS = 1.0
# Decisions remembered at most (then forgotten all at once).
MAX_DECISIONS = 4096


def _key(value):
    """``value`` (credentials, a target: dicts, lists and scalars) as a
    hashable key; TypeError when it has none."""
    if isinstance(value, collections.abc.Mapping):
        return ('dict',) + tuple((k, _key(v)) for k, v in sorted(
            value.items()))
    if isinstance(value, (list, tuple)):
        return ('list',) + tuple(_key(v) for v in value)
    hash(value)
    return value


class Enforcer(policy.Enforcer):
    """oslo.policy's enforcer, remembering each decision for the rules,
    credentials and target it was made for: a check otherwise searches
    the filesystem for a policy file and walks the rule (inspecting each
    check's signature), which costs a small request about as much as its
    database read. A policy file is looked for (and a changed one
    reloaded) at most once per POLICY_FILE_CHECK_SECONDS; any change of
    the rules forgets every decision."""

    def __init__(self, conf):
        super().__init__(conf)
        self._looked = None
        self._decisions = {}
        self._decided_by = None

    def load_rules(self, force_reload=False):
        now = time.monotonic()
        if (force_reload or self._looked is None or
                now - self._looked >= POLICY_FILE_CHECK_SECONDS):
            self._looked = now
            super().load_rules(force_reload)

    def clear(self):
        super().clear()
        self._looked = None

    def allows(self, action, target, context):
        """Whether ``context`` may do ``action`` on ``target`` (a denial
        on scope included)."""
        self.load_rules()
        if self.rules != self._decided_by:
            self._decisions = {}
            self._decided_by = dict(self.rules)
        try:
            key = _key((action, context.to_policy_values(), target))
        except TypeError:
            key = None
        allowed = self._decisions.get(key) if key is not None else None
        if allowed is None:
            try:
                allowed = bool(self.authorize(action, target, context,
                                              do_raise=False))
            except policy.InvalidScope:
                LOG.debug('Policy check for %s failed on scope', action)
                allowed = False
            if key is not None:
                if len(self._decisions) >= MAX_DECISIONS:
                    self._decisions = {}
                self._decisions[key] = allowed
        return allowed


def reset():
    global _ENFORCER
    if _ENFORCER:
        _ENFORCER.clear()
    _ENFORCER = None


def init(conf, suppress_deprecation_warnings=False):
    """Build the process-wide enforcer from ``conf``."""
    global _ENFORCER
    if not _ENFORCER:
        _ENFORCER = Enforcer(conf)
        _ENFORCER.suppress_deprecation_warnings = (
            suppress_deprecation_warnings)
        _ENFORCER.register_defaults(policies.list_rules())
        _ENFORCER.load_rules()
    return _ENFORCER


def get_enforcer():
    """Entry point for oslopolicy-* tools: an enforcer on a fresh config."""
    from oslo_config import cfg

    from placement import conf as placement_conf
    conf = cfg.ConfigOpts()
    placement_conf.register_opts(conf)
    policy_opts.set_defaults(conf)
    conf([], project='placement')
    reset()
    return init(conf)


def authorize(context, action, target):
    """Raise PolicyNotAuthorized unless ``context`` may do ``action``.

    A token whose scope the rule does not allow (e.g. system scope with
    ``enforce_scope``) is a denial too.
    """
    if _ENFORCER is None:
        raise RuntimeError('policy enforcer is not initialised')
    if not _ENFORCER.allows(action, target, context):
        raise PolicyNotAuthorized(action, target, context.to_policy_values())
    return True
