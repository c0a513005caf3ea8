from oslo_policy import policy

ADMIN = 'rule:admin_api'
SERVICE = 'rule:service_api'
ADMIN_OR_SERVICE = 'rule:admin_or_service_api'
ADMIN_OR_PROJECT_READER_OR_SERVICE = (
    'rule:admin_or_project_reader_or_service_api')

_DEPRECATED_REASON = (
    'Placement API policies are introducing new default roles with '
    'scope_type capabilities. The old defaults remain available with '
    '[oslo_policy] enforce_new_defaults = False.')


def _deprecated(name):
    """The legacy "admin only" default OR'd into rule ``name`` when new
    defaults are not enforced."""
    return policy.DeprecatedRule(
        name=name, check_str='role:admin',
        deprecated_reason=_DEPRECATED_REASON, deprecated_since='6.0.0')


rules = [
    policy.RuleDefault(
        'admin_api', 'role:admin',
        description='Default rule for most placement APIs.',
        scope_types=['project']),
    policy.RuleDefault(
        'service_api', 'role:service',
        description='Default rule for service-to-service placement APIs.',
        scope_types=['project'],
        deprecated_rule=_deprecated('service_api')),
    policy.RuleDefault(
        'admin_or_service_api', 'role:admin or role:service',
        description='Default rule for most placement APIs.',
        scope_types=['project'],
        deprecated_rule=_deprecated('admin_or_service_api')),
    policy.RuleDefault(
        'project_reader_api', 'role:reader and project_id:%(project_id)s',
        description='Default rule for project level reader APIs.',
        scope_types=['project'],
        deprecated_rule=_deprecated('project_reader_api')),
    policy.RuleDefault(
        'admin_or_project_reader_or_service_api',
        'role:admin or rule:project_reader_api or role:service',
        description='Default rule for project level reader APIs.',
        scope_types=['project'],
        deprecated_rule=_deprecated(
            'admin_or_project_reader_or_service_api')),
]


def api_rule(name, check_str, description, operations):
    """A project-scoped API rule documented with its operations."""
    return policy.DocumentedRuleDefault(
        name=name, check_str=check_str, description=description,
        operations=operations, scope_types=['project'])


def list_rules():
    return rules
