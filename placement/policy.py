"""oslo.policy enforcement: one enforcer per process, built from the
registered defaults (placement.policies) plus ``[oslo_policy]`` overrides."""

from oslo_log import log as logging
from oslo_policy import opts as policy_opts
from oslo_policy import policy

from placement import policies

LOG = logging.getLogger(__name__)
_ENFORCER = None

PolicyNotAuthorized = policy.PolicyNotAuthorized


def reset():
    global _ENFORCER
    if _ENFORCER:
        _ENFORCER.clear()
    _ENFORCER = None


def init(conf, suppress_deprecation_warnings=False):
    """Build the process-wide enforcer from ``conf``."""
    global _ENFORCER
    if not _ENFORCER:
        _ENFORCER = policy.Enforcer(conf)
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
    try:
        return _ENFORCER.authorize(action, target, context,
                                   do_raise=True)
    except policy.InvalidScope:
        LOG.debug('Policy check for %s failed on scope', action)
        raise PolicyNotAuthorized(action, target, context.to_policy_values())
