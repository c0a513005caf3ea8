"""The benchmark's statistics and ours/baseline ratio code (no timing)."""

import testtools

from tools.bench import stats


class TestPercentile(testtools.TestCase):

    def test_empty_is_none(self):
        self.assertIsNone(stats.percentile([], 50))

    def test_single_sample(self):
        for pct in (0, 50, 90, 99, 100):
            self.assertEqual(7.0, stats.percentile([7], pct))

    def test_interpolates_between_ranks(self):
        samples = [4, 1, 3, 2]  # order must not matter
        self.assertEqual(1.0, stats.percentile(samples, 0))
        self.assertEqual(2.5, stats.percentile(samples, 50))
        self.assertAlmostEqual(3.7, stats.percentile(samples, 90))
        self.assertEqual(4.0, stats.percentile(samples, 100))

    def test_exact_rank(self):
        self.assertEqual(30.0, stats.percentile([10, 20, 30, 40, 50], 50))
        self.assertAlmostEqual(
            99.01, stats.percentile(list(range(1, 101)), 99))

    def test_out_of_range(self):
        self.assertRaises(ValueError, stats.percentile, [1], 101)
        self.assertRaises(ValueError, stats.percentile, [1], -1)


class TestSummarize(testtools.TestCase):

    def test_summary(self):
        s = stats.summarize([5.0, 1.0, 3.0])
        self.assertEqual(3, s['n'])
        self.assertEqual(1.0, s['min'])
        self.assertEqual(5.0, s['max'])
        self.assertEqual(3.0, s['p50'])
        self.assertEqual(3.0, s['mean'])
        self.assertAlmostEqual(4.6, s['p90'])
        self.assertAlmostEqual(4.96, s['p99'])

    def test_empty(self):
        s = stats.summarize([])
        self.assertEqual(0, s['n'])
        self.assertIsNone(s['p50'])
        self.assertIsNone(s['mean'])


class TestRatio(testtools.TestCase):

    def test_ratio(self):
        self.assertEqual(0.5, stats.ratio(10.0, 20.0))
        self.assertEqual(2.0, stats.ratio(20.0, 10.0))

    def test_missing_or_zero(self):
        self.assertIsNone(stats.ratio(None, 10.0))
        self.assertIsNone(stats.ratio(10.0, None))
        self.assertIsNone(stats.ratio(10.0, 0.0))


class TestFormatTable(testtools.TestCase):

    def _row(self, table, name):
        for line in table.splitlines():
            if line.split()[0] == name:
                return line
        self.fail('%s not in table:\n%s' % (name, table))

    def test_without_baseline(self):
        ours = {'a': dict(stats.summarize([10.0, 20.0, 30.0]), count=4)}
        table = stats.format_table(ours, targets={'a': 25})
        self.assertNotIn('ratio', table)
        row = self._row(table, 'a')
        self.assertIn('20.00', row)
        self.assertIn('<=25', row)
        self.assertIn('ok', row)

    def test_over_target(self):
        ours = {'a': stats.summarize([30.0])}
        row = self._row(stats.format_table(ours, targets={'a': 25}), 'a')
        self.assertIn('OVER TARGET', row)

    def test_ratio_columns_and_errors(self):
        ours = {'a': stats.summarize([10.0]), 'd': stats.summarize([50.0])}
        base = {'a': stats.summarize([40.0]),
                'd': dict(stats.summarize([]), error='HTTP 500: boom'),
                'x': stats.summarize([1.0])}
        table = stats.format_table(ours, base)
        self.assertIn('p50 ratio', table)
        self.assertIn('0.25x', self._row(table, 'a'))
        row = self._row(table, 'd')
        self.assertIn('base: HTTP 500: boom', row)
        self.assertNotIn('x ', row.split('base:')[0].split('50.00', 1)[1])
        # A shape only the baseline ran still gets a row.
        self.assertIn('1.00', self._row(table, 'x'))
