"""Microversion list and the version windows handlers/schemas declare."""

import importlib
import pkgutil

import testtools

from placement import handlers
from placement import microversion
from placement import schemas


def _import_all(package):
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module('%s.%s' % (package.__name__, info.name))


class TestVersions(testtools.TestCase):

    def test_full_list(self):
        self.assertEqual(40, len(microversion.VERSIONS))
        self.assertEqual('1.0', microversion.MIN_VERSION)
        self.assertEqual('1.39', microversion.MAX_VERSION)


class TestVersionWindows(testtools.TestCase):

    def test_lookup(self):
        windows = microversion.VersionWindows(
            'test-lookup', [((1, 0), (1, 7), 'a'), ((1, 8), None, 'b')])
        self.assertEqual('a', windows.for_version((1, 0)))
        self.assertEqual('a', windows.for_version((1, 7)))
        self.assertEqual('b', windows.for_version((1, 8)))
        self.assertEqual('b', windows.for_version((1, 39)))

    def test_below_first_window(self):
        windows = microversion.VersionWindows(
            'test-below', [((1, 13), None, 'x')])
        self.assertIsNone(windows.for_version((1, 12)))

    def test_overlap_detected(self):
        windows = microversion.VersionWindows(
            'test-overlap', [((1, 0), (1, 8), 'a'), ((1, 8), None, 'b')])
        self.assertRaises(ValueError, windows.check)
        microversion.VersionWindows.registry.remove(windows)

    def test_gap_detected(self):
        windows = microversion.VersionWindows(
            'test-gap', [((1, 0), (1, 6), 'a'), ((1, 8), None, 'b')])
        self.assertRaises(ValueError, windows.check)
        microversion.VersionWindows.registry.remove(windows)

    def test_every_declared_window_set_is_contiguous(self):
        # Import every handler and schema module so their windows register.
        _import_all(handlers)
        _import_all(schemas)
        self.assertNotEqual([], microversion.VersionWindows.registry)
        for windows in microversion.VersionWindows.registry:
            windows.check()
