"""The policy defaults in both modes, checked through the real enforcer."""

import time

import fixtures as fixtures_lib
from oslo_policy import policy as oslo_policy
import testtools

from placement import context
from placement import policies
from placement import policy
from placement.tests import fixtures

ALL_API_RULES = {
    'placement:resource_providers:%s' % a
    for a in ('list', 'create', 'show', 'update', 'delete')} | {
    'placement:resource_classes:%s' % a
    for a in ('list', 'create', 'show', 'update', 'delete')} | {
    'placement:resource_providers:inventories:%s' % a
    for a in ('list', 'create', 'show', 'update', 'delete')} | {
    'placement:resource_providers:aggregates:list',
    'placement:resource_providers:aggregates:update',
    'placement:resource_providers:usages', 'placement:usages',
    'placement:traits:list', 'placement:traits:show',
    'placement:traits:update', 'placement:traits:delete',
    'placement:resource_providers:traits:list',
    'placement:resource_providers:traits:update',
    'placement:resource_providers:traits:delete',
    'placement:allocations:manage', 'placement:allocations:list',
    'placement:allocations:update', 'placement:allocations:delete',
    'placement:resource_providers:allocations:list',
    'placement:allocation_candidates:list',
    'placement:reshaper:reshape'}
# Beyond upstream's rules.
EXTRA_RULES = {'placement:metrics', 'placement:allocation_candidates:explain'}
BASE_RULES = {'admin_api', 'service_api', 'admin_or_service_api',
              'project_reader_api', 'admin_or_project_reader_or_service_api'}


class _PolicyTest(testtools.TestCase):

    new_defaults = True

    def setUp(self):
        super().setUp()
        conf = self.useFixture(fixtures.ConfFixture()).conf
        conf.set_override('enforce_new_defaults', self.new_defaults,
                          group='oslo_policy')
        self.useFixture(fixtures.PolicyFixture(conf))

    def ctx(self, roles, project='p1', system=None):
        return context.RequestContext(user_id='u', project_id=project,
                                      roles=roles, system_scope=system)

    def allowed(self, ctx, rule, target=None):
        return ctx.can(rule, target, fatal=False)


class TestRuleNames(testtools.TestCase):

    def test_every_spec_rule_is_registered(self):
        names = {rule.name for rule in policies.list_rules()}
        self.assertEqual(ALL_API_RULES | EXTRA_RULES | BASE_RULES, names)

    def test_every_api_rule_is_project_scoped(self):
        for rule in policies.list_rules():
            self.assertEqual(['project'], rule.scope_types, rule.name)


class TestSecureDefaults(_PolicyTest):

    def test_admin_and_service_everything_but_reshape(self):
        for roles in (['admin'], ['service']):
            for rule in ALL_API_RULES - {'placement:reshaper:reshape'}:
                self.assertTrue(self.allowed(self.ctx(roles), rule,
                                             {'project_id': 'p1'}),
                                (roles, rule))

    def test_only_service_reshapes(self):
        rule = 'placement:reshaper:reshape'
        self.assertTrue(self.allowed(self.ctx(['service']), rule))
        self.assertFalse(self.allowed(self.ctx(['admin']), rule))

    def test_reader_sees_only_own_usages(self):
        reader = self.ctx(['reader'])
        self.assertTrue(self.allowed(reader, 'placement:usages',
                                     {'project_id': 'p1'}))
        self.assertFalse(self.allowed(reader, 'placement:usages',
                                      {'project_id': 'p2'}))
        self.assertFalse(self.allowed(reader,
                                      'placement:resource_providers:list'))

    def test_member_gets_nothing(self):
        member = self.ctx(['member'])
        for rule in ALL_API_RULES - {'placement:usages'}:
            self.assertFalse(self.allowed(member, rule), rule)

    def test_metrics_admin_only(self):
        self.assertTrue(self.allowed(self.ctx(['admin']),
                                     'placement:metrics'))
        for roles in (['service'], ['reader'], ['member'], []):
            self.assertFalse(self.allowed(self.ctx(roles),
                                          'placement:metrics'), roles)

    def test_system_scope_denied(self):
        system_admin = self.ctx(['admin'], project=None, system='all')
        self.assertFalse(self.allowed(system_admin,
                                      'placement:resource_providers:list'))

    def test_denial_is_403(self):
        import webob.exc
        exc = self.assertRaises(
            webob.exc.HTTPForbidden, self.ctx([]).can,
            'placement:resource_providers:list')
        self.assertIn('placement:resource_providers:list', exc.detail)


class TestLegacyDefaults(_PolicyTest):

    new_defaults = False

    def test_admin_may_reshape(self):
        self.assertTrue(self.allowed(self.ctx(['admin']),
                                     'placement:reshaper:reshape'))

    def test_metrics_admin_only(self):
        self.assertTrue(self.allowed(self.ctx(['admin']),
                                     'placement:metrics'))
        self.assertFalse(self.allowed(self.ctx(['service']),
                                      'placement:metrics'))

    def test_roleless_denied(self):
        for rule in ALL_API_RULES | EXTRA_RULES:
            self.assertFalse(self.allowed(self.ctx([]), rule,
                                          {'project_id': 'p1'}), rule)


class TestRememberedDecisions(_PolicyTest):
    """policy.Enforcer decides a check once per rules, credentials and
    target; anything new is decided again."""

    RULE = 'placement:resource_providers:list'

    def setUp(self):
        super().setUp()
        self.enforcer = policy.init(None)
        self.decide = self.useFixture(fixtures_lib.MockPatchObject(
            policy.policy.Enforcer, 'authorize', autospec=True,
            side_effect=policy.policy.Enforcer.authorize)).mock

    def test_the_same_check_is_decided_once(self):
        admin = self.ctx(['admin'])
        reader = self.ctx(['reader'], project='p2')
        for _ in range(3):
            self.assertTrue(self.allowed(admin, self.RULE))
            self.assertFalse(self.allowed(reader, self.RULE))
        self.assertEqual(2, self.decide.call_count)
        # Another target, other credentials: decided again.
        self.assertTrue(self.allowed(admin, self.RULE, {'project_id': 'x'}))
        self.assertTrue(self.allowed(self.ctx(['admin'], project='p3'),
                                     self.RULE))
        self.assertEqual(4, self.decide.call_count)

    def test_new_rules_forget_every_decision(self):
        reader = self.ctx(['reader'], project='p2')
        self.assertFalse(self.allowed(reader, self.RULE))
        self.enforcer.set_rules(oslo_policy.Rules.from_dict(
            {self.RULE: '@'}), overwrite=False)
        self.assertTrue(self.allowed(reader, self.RULE))
        self.assertEqual(2, self.decide.call_count)

    def test_a_policy_file_is_looked_for_once_a_second(self):
        now = [time.monotonic() + policy.POLICY_FILE_CHECK_SECONDS]
        self.useFixture(fixtures_lib.MockPatch(
            'placement.policy.time.monotonic', side_effect=lambda: now[0]))
        reader = self.ctx(['reader'], project='p2')
        self.assertFalse(self.allowed(reader, self.RULE))
        path = self.useFixture(fixtures_lib.TempDir()).join('policy.yaml')
        with open(path, 'w') as f:
            f.write('"%s": "@"\n' % self.RULE)
        self.enforcer.conf.set_override('policy_file', path,
                                        group='oslo_policy')
        self.enforcer.policy_file = path
        now[0] += policy.POLICY_FILE_CHECK_SECONDS / 2
        self.assertFalse(self.allowed(reader, self.RULE))
        now[0] += policy.POLICY_FILE_CHECK_SECONDS
        self.assertTrue(self.allowed(reader, self.RULE))
