"""Unit tests of the shared query-parameter parsers (every error text)."""

from unittest import mock
import uuid

import testtools
import webob.exc

from placement import exception
from placement import query_params as qp

U1 = str(uuid.uuid4())
U2 = str(uuid.uuid4())
U3 = str(uuid.uuid4())


class _Base(testtools.TestCase):

    def assertBadRequest(self, fragment, func, *args, **kwargs):
        exc = self.assertRaises(webob.exc.HTTPBadRequest, func, *args,
                                **kwargs)
        self.assertIn(fragment, exc.detail)
        return exc


class TestParseResources(_Base):

    def test_ok(self):
        self.assertEqual({'VCPU': 2, 'MEMORY_MB': 1024},
                         qp.parse_resources(None, 'VCPU:2,MEMORY_MB:1024'))

    def test_whitespace_tolerated(self):
        self.assertEqual({'VCPU': 2}, qp.parse_resources(None, ' VCPU: 2 '))

    def test_empty(self):
        for value in ('', '   '):
            self.assertBadRequest(
                'Badly formed resources parameter. Expected resources query '
                'string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024. '
                'Got: empty string.', qp.parse_resources, None, value)

    def test_bad_item(self):
        self.assertBadRequest(
            '?resources=VCPU:2,MEMORY_MB:1024. Got: VCPU.',
            qp.parse_resources, None, 'VCPU')
        self.assertBadRequest(
            'Got: VCPU:1:2.', qp.parse_resources, None, 'VCPU:1:2')

    def test_trailing_comma(self):
        self.assertBadRequest('MEMORY_MB:1024. Got: .',
                              qp.parse_resources, None, 'VCPU:1,')

    def test_not_integer(self):
        self.assertBadRequest(
            'Requested resource VCPU expected positive integer amount. '
            'Got: cow.', qp.parse_resources, None, 'VCPU:cow')

    def test_not_positive(self):
        self.assertBadRequest(
            'Requested resource VCPU requires amount >= 1. Got: 0.',
            qp.parse_resources, None, 'VCPU:0')
        self.assertBadRequest(
            'Requested resource VCPU requires amount >= 1. Got: -2.',
            qp.parse_resources, None, 'VCPU:-2')

    def test_ascii_digits_only(self):
        for amount in ('1_0', '\u0665', '1.0', '0x10', '1e3'):
            self.assertBadRequest(
                'Requested resource VCPU expected positive integer amount. '
                'Got: %s.' % amount, qp.parse_resources, None,
                'VCPU:' + amount)
        self.assertEqual({'VCPU': 5}, qp.parse_resources(None, 'VCPU:+5'))

    def test_bounded_by_the_amount_column(self):
        self.assertEqual({'VCPU': 2147483647},
                         qp.parse_resources(None, 'VCPU:2147483647'))
        for amount in ('2147483648', '9' * 5000):
            self.assertBadRequest(
                'Requested resource VCPU requires amount <= 2147483647. '
                'Got: %s.' % amount, qp.parse_resources, None,
                'VCPU:' + amount)
        self.assertBadRequest(
            'Requested resource VCPU requires amount >= 1. Got: -%s.' %
            ('9' * 5000), qp.parse_resources, None, 'VCPU:-' + '9' * 5000)

    def test_bounded_int(self):
        self.assertEqual(7, qp.bounded_int('007', 10))
        self.assertEqual(11, qp.bounded_int('12', 10))
        self.assertEqual(-11, qp.bounded_int('-' + '9' * 5000, 10))
        self.assertEqual(0, qp.bounded_int('-0', 10))

    @mock.patch('placement.objects.resource_class.ids_from_names')
    def test_unknown_class(self, ids_from_names):
        ids_from_names.return_value = {'VCPU': 0}
        self.assertBadRequest(
            'Invalid resource class in resources parameter: No such '
            'resource class CUSTOM_NOPE.',
            qp.parse_resources, mock.sentinel.ctx, 'VCPU:1,CUSTOM_NOPE:2')

    @mock.patch('placement.objects.resource_class.ids_from_names')
    def test_known_classes(self, ids_from_names):
        ids_from_names.return_value = {'VCPU': 0}
        self.assertEqual({'VCPU': 1},
                         qp.parse_resources(mock.sentinel.ctx, 'VCPU:1'))


class TestParseRequired(_Base):

    def test_plain(self):
        got = qp.parse_required(['A, B'], (1, 18))
        self.assertEqual([frozenset(['A']), frozenset(['B'])], got.any_of)
        self.assertEqual(set(), got.forbidden)
        self.assertEqual({'A', 'B'}, got.required)

    def test_forbidden(self):
        got = qp.parse_required(['A,!B'], (1, 22))
        self.assertEqual([frozenset(['A'])], got.any_of)
        self.assertEqual({'B'}, got.forbidden)
        self.assertEqual({'A', 'B'}, got.names())

    def test_triple_bang(self):
        got = qp.parse_required(['!!!B'], (1, 22))
        self.assertEqual({'B'}, got.forbidden)

    def test_forbidden_too_early(self):
        self.assertBadRequest(
            "Invalid query string parameters: Expected 'required' parameter "
            "value of the form: HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: !B",
            qp.parse_required, ['!B'], (1, 21))

    def test_empty_value_old(self):
        self.assertBadRequest(
            "Expected 'required' parameter value of the form: "
            "HW_CPU_X86_VMX,CUSTOM_MAGIC.", qp.parse_required, [''], (1, 18))

    def test_empty_element_new(self):
        self.assertBadRequest(
            "Invalid query string parameters: Expected 'required' parameter "
            "value of the form: HW_CPU_X86_VMX,!CUSTOM_MAGIC.",
            qp.parse_required, ['A,,B'], (1, 22))

    def test_lone_bang(self):
        self.assertBadRequest("HW_CPU_X86_VMX,!CUSTOM_MAGIC.",
                              qp.parse_required, ['A,!'], (1, 22))

    def test_last_occurrence_below_139(self):
        got = qp.parse_required(['A', 'B'], (1, 38))
        self.assertEqual([frozenset(['B'])], got.any_of)

    def test_last_occurrence_validated_only(self):
        # An earlier bad occurrence is ignored below 1.39.
        got = qp.parse_required(['!A', 'B'], (1, 18))
        self.assertEqual([frozenset(['B'])], got.any_of)

    def test_repeated_at_139(self):
        got = qp.parse_required(['in:A,B', 'C,!D'], (1, 39))
        self.assertEqual([frozenset(['A', 'B']), frozenset(['C'])],
                         got.any_of)
        self.assertEqual({'D'}, got.forbidden)
        self.assertEqual({'C'}, got.required)

    def test_any_of_too_early(self):
        self.assertBadRequest(
            "The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' only supported "
            "since microversion 1.39. Got: in:A,B",
            qp.parse_required, ['in:A,B'], (1, 38))

    def test_any_of_not_allowed(self):
        self.assertBadRequest(
            "only supported since microversion 1.39. Got: in:A",
            qp.parse_required, ['in:A'], (1, 39), allow_any_of=False)

    def test_any_of_forbidden(self):
        self.assertBadRequest(
            "The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' does not support "
            "forbidden traits. Got: in:A,!B",
            qp.parse_required, ['in:A,!B'], (1, 39))

    def test_any_of_empty(self):
        self.assertBadRequest('Got an empty trait in: in:A,,B',
                              qp.parse_required, ['in:A,,B'], (1, 39))
        self.assertBadRequest('Got an empty trait in: in:',
                              qp.parse_required, ['in:'], (1, 39))

    def test_duplicate_terms_collapse(self):
        got = qp.parse_required(['A,A', 'A'], (1, 39))
        self.assertEqual([frozenset(['A'])], got.any_of)

    def test_conflicts(self):
        got = qp.parse_required(['A,!A', 'in:B,C', '!B'], (1, 39))
        self.assertEqual(['A'], got.conflicts())
        got = qp.parse_required(['in:B,C', '!B,!C'], (1, 39))
        self.assertEqual(['B', 'C'], got.conflicts())

    @mock.patch('placement.objects.trait.ids_from_names')
    def test_check_traits_exist(self, ids_from_names):
        ids_from_names.side_effect = exception.TraitNotFound(
            names='CUSTOM_X, CUSTOM_Y')
        traits = qp.parse_required(['CUSTOM_X,!CUSTOM_Y'], (1, 22))
        self.assertBadRequest(
            'Invalid trait(s) in "required" parameter: No such trait(s): '
            'CUSTOM_X, CUSTOM_Y.', qp.check_traits_exist,
            mock.sentinel.ctx, traits, prefix=qp.RP_LIST_TRAIT_PREFIX)
        ids_from_names.assert_called_once_with(
            mock.sentinel.ctx, {'CUSTOM_X', 'CUSTOM_Y'})

    @mock.patch('placement.objects.trait.ids_from_names')
    def test_check_traits_exist_ok(self, ids_from_names):
        ids_from_names.return_value = {'A': 1}
        traits = qp.parse_required(['A'], (1, 22))
        self.assertEqual({'A': 1}, qp.check_traits_exist(
            mock.sentinel.ctx, traits))


class TestParseMemberOf(_Base):

    def test_single(self):
        got = qp.parse_member_of([U1], (1, 3))
        self.assertEqual([{U1}], got.any_of)
        self.assertEqual(set(), got.forbidden)

    def test_in(self):
        got = qp.parse_member_of(['in:%s,%s' % (U1, U2)], (1, 3))
        self.assertEqual([{U1, U2}], got.any_of)

    def test_multiple_values_without_in(self):
        self.assertBadRequest(
            "Multiple values for 'member_of' must be prefixed with the 'in:' "
            "or '!in:' keyword using the valid microversion.",
            qp.parse_member_of, ['%s,%s' % (U1, U2)], (1, 3))

    def test_bad_uuid(self):
        for value in ('cow', '', 'in:', 'in:%s,' % U1, 'in:%s,!%s' % (U1, U2)):
            self.assertBadRequest(
                "Invalid query string parameters: Expected 'member_of' "
                "parameter to contain valid UUID(s).",
                qp.parse_member_of, [value], (1, 32))

    def test_repeated_too_early(self):
        self.assertBadRequest(
            'Multiple member_of parameters are not supported',
            qp.parse_member_of, [U1, U2], (1, 23))

    def test_repeated(self):
        got = qp.parse_member_of([U1, 'in:%s,%s' % (U2, U3)], (1, 24))
        self.assertEqual([{U1}, {U2, U3}], got.any_of)

    def test_forbidden_too_early(self):
        for value in ('!' + U1, '!in:%s,%s' % (U1, U2)):
            self.assertBadRequest(
                'Forbidden member_of parameters are not supported in the '
                'specified microversion',
                qp.parse_member_of, [value], (1, 31))

    def test_forbidden(self):
        got = qp.parse_member_of(
            ['!' + U1, '!in:%s,%s' % (U2, U3)], (1, 32))
        self.assertEqual([], got.any_of)
        self.assertEqual({U1, U2, U3}, got.forbidden)

    def test_forbidden_multiple_without_in(self):
        self.assertBadRequest(
            "Multiple values for 'member_of' must be prefixed",
            qp.parse_member_of, ['!%s,%s' % (U1, U2)], (1, 32))
