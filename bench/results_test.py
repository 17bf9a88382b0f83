# SPDX-License-Identifier: MIT
"""Tests of the benches' --json and --plot (bench/results.py, bench/plots.py)
on made-up rows: no VMM, guest or root needed. CTest runs it as
bench_output_test, with a Python that has matplotlib when one is found
(CMakeLists.txt); without it the chart tests are skipped and say so.
"""
import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import plots  # noqa: E402
import results  # noqa: E402

try:
    import matplotlib  # noqa: F401
    HAVE_MATPLOTLIB = True
except ImportError:
    HAVE_MATPLOTLIB = False

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MIB = 1 << 20


def migration_rows():
    ours = {"vmm": "vmm", "scenario": "idle-hint", "total_ms": 900.0, "downtime_ms": 7.5, "sent_mib": 130.0,
            "round_history": [
                {"round": 1, "dirty_bytes": 120 * MIB, "bytes_sent": 121 * MIB, "ms": 800.0, "paused": False},
                {"round": 2, "dirty_bytes": 8 * MIB, "bytes_sent": 8 * MIB, "ms": 60.0, "paused": False},
                {"round": 3, "dirty_bytes": 1 * MIB, "bytes_sent": 1 * MIB, "ms": 4.0, "paused": True}]}
    theirs = {"vmm": "qemu", "scenario": "idle-hint", "total_ms": 2500.0, "downtime_ms": 12, "sent_mib": 400.0,
              "round_history": plots.qemu_rounds(
                  [{"syncs": 1, "transferred": 100 * MIB, "remaining": 300 * MIB}],
                  {"syncs": 2, "transferred": 400 * MIB, "remaining": 0})}
    # A run whose VMM reported no rounds still gets its panel.
    bare = {"vmm": "vmm", "scenario": "dirty", "total_ms": 1.0, "downtime_ms": 1.0, "sent_mib": 1.0}
    return [ours, theirs, bare]


def balloon_rows():
    return [{"vmm": v, "state": "idle", "step": step, "wall_s": 1.5,
             "progress": [(0.0, 0 if step == "inflate" else 1024), (0.7, 512), (1.5, 1024 if step == "inflate" else 0)]}
            for v in ("vmm", "qemu") for step in ("inflate", "deflate")]


class QemuRoundsTest(unittest.TestCase):
    def test_rounds_are_the_bytes_sent_while_each_sync_count_held(self):
        samples = [{"syncs": 0, "transferred": 0, "remaining": 0},  # before the first sync: no round yet
                   {"syncs": 1, "transferred": 50, "remaining": 1000},
                   {"syncs": 1, "transferred": 700, "remaining": 400},
                   {"syncs": 2, "transferred": 900, "remaining": 90},
                   {"syncs": 4, "transferred": 990, "remaining": 5}]  # round 3 fell between two polls
        final = {"syncs": 5, "transferred": 1000, "remaining": 0}
        rounds = plots.qemu_rounds(samples, final)
        self.assertEqual([r["round"] for r in rounds], [1, 2, 4, 5])
        self.assertEqual([r["bytes_sent"] for r in rounds], [700, 200, 90, 10])
        self.assertEqual(sum(r["bytes_sent"] for r in rounds), final["transferred"])
        self.assertEqual([r["dirty_bytes"] for r in rounds], [1000, 90, 5, 0])
        self.assertEqual([r["paused"] for r in rounds], [False, False, False, True])

    def test_a_migration_over_before_the_first_poll_is_one_paused_round(self):
        rounds = plots.qemu_rounds([], {"syncs": 2, "transferred": 300, "remaining": 0})
        self.assertEqual(rounds, [{"round": 2, "dirty_bytes": 0, "bytes_sent": 300, "paused": True}])


class JsonTest(unittest.TestCase):
    def test_writes_rows_arguments_and_provenance_and_leaves_no_temporary(self):
        args = argparse.Namespace(memory="1G", scenarios=["idle-hint"], json="x", plot=None)
        rows = migration_rows()
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "out.json")
            results.write_json(path, "migrate", args, rows, medians={"a": 1})
            with open(path) as f:
                doc = json.load(f)
            self.assertEqual(os.listdir(d), ["out.json"])
        self.assertEqual(doc["bench"], "migrate")
        self.assertEqual(doc["format"], results.FORMAT)
        self.assertEqual(doc["args"], {"memory": "1G", "scenarios": ["idle-hint"]})  # not the output paths
        self.assertEqual(doc["rows"], json.loads(json.dumps(rows)))
        self.assertEqual(doc["medians"], {"a": 1})
        for key in ("commit", "commit_dirty", "vmm_version", "host", "host_kernel", "pvm", "date"):
            self.assertIn(key, doc)
        self.assertRegex(doc["commit"] or "", r"^([0-9a-f]{40})?$")

    def test_every_bench_takes_json_and_the_drawing_ones_plot(self):
        for bench, plots_too in (("migrate", True), ("balloon", True), ("boot", False), ("restore", False),
                                  ("disk", False), ("net", False)):
            out = subprocess.run([sys.executable, os.path.join(HERE, f"{bench}.py"), "--help"],
                                 capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("--json FILE", out.stdout, bench)
            self.assertEqual("--plot FILE.png" in out.stdout, plots_too, bench)


class CheckOutputsTest(unittest.TestCase):
    def check(self, args, prog):
        """check_outputs' exit status and what it printed."""
        err = io.StringIO()
        with self.assertRaises(SystemExit) as e, contextlib.redirect_stderr(err):
            results.check_outputs(args, prog)
        return e.exception.code, err.getvalue()

    def test_a_missing_folder_is_named_before_the_run(self):
        code, err = self.check(argparse.Namespace(json="/nonexistent-dir/out.json", plot=None), "bench/x")
        self.assertEqual(code, 2)
        self.assertEqual(err, "bench/x: --json /nonexistent-dir/out.json: the folder /nonexistent-dir does not exist\n")

    def test_plot_without_matplotlib_is_one_clear_error(self):
        # None in sys.modules makes `import matplotlib` raise ImportError.
        with mock.patch.dict(sys.modules, {"matplotlib": None, "matplotlib.pyplot": None}):
            with self.assertRaises(results.PlotUnavailable) as e:
                results.pyplot()
            self.assertIn("apt-get install python3-matplotlib", str(e.exception))
            with tempfile.TemporaryDirectory() as d:
                code, err = self.check(argparse.Namespace(json=None, plot=os.path.join(d, "c.png")), "bench/migrate")
        self.assertEqual(code, 2)
        self.assertTrue(err.startswith("bench/migrate: --plot needs matplotlib"), err)
        self.assertEqual(err.count("\n"), 1, "one line")

    def test_nothing_asked_nothing_checked(self):
        results.check_outputs(argparse.Namespace(json=None, plot=None), "bench/x")
        results.check_outputs(argparse.Namespace(json=None), "bench/x")  # a bench without --plot


@unittest.skipUnless(os.environ.get("MIGRATE_PIPELINE"), "MIGRATE_PIPELINE (build/bench/migrate_pipeline) not given")
class MigratePipelineJsonTest(unittest.TestCase):
    def test_the_cpp_bench_writes_the_same_layout(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "pipeline.json")
            out = subprocess.run([os.environ["MIGRATE_PIPELINE"], "--memory", "64M", "--used", "16M", "--zero", "4M",
                                  "--transport", "unix", "--json", path], capture_output=True, text=True, timeout=300)
            self.assertEqual(out.returncode, 0, out.stderr)
            with open(path) as f:
                doc = json.load(f)
            self.assertEqual(sorted(os.listdir(d)), ["pipeline.json"])
        self.assertEqual(doc["bench"], "migrate_pipeline")
        self.assertEqual(doc["format"], results.FORMAT)
        self.assertEqual(doc["args"]["memory"], 64 * MIB)
        self.assertEqual(doc["args"]["transport"], "unix")
        [row] = doc["rows"]
        self.assertGreaterEqual(row["bytes_sent"], 16 * MIB)  # every used page went over
        self.assertGreaterEqual(row["rounds"], 2)
        self.assertEqual(len(row["round_history"]), row["rounds"])
        self.assertTrue(row["round_history"][-1]["paused"])
        self.assertEqual(row["zero_pages"], 4 * MIB // 4096)
        # The printed line and the JSON are the same run.
        self.assertIn(f"rounds {row['rounds']}, zero pages {row['zero_pages']}", out.stdout)

    def test_a_bad_json_path_is_named(self):
        out = subprocess.run([os.environ["MIGRATE_PIPELINE"], "--memory", "16M", "--used", "4M", "--zero", "0",
                              "--transport", "unix", "--json", "/nonexistent-dir/x.json"],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 1)
        self.assertIn("cannot write --json /nonexistent-dir/x.json", out.stderr)


@unittest.skipUnless(HAVE_MATPLOTLIB, "matplotlib is not installed (apt-get install python3-matplotlib)")
class ChartTest(unittest.TestCase):
    def draw(self, plot, rows):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "chart.png")
            args = argparse.Namespace(json=os.path.join(d, "f.json"), plot=path)
            results.write_outputs(args, "test", rows, plot)
            with open(path, "rb") as f:
                data = f.read()
            self.assertTrue(os.path.exists(args.json))
        self.assertTrue(data.startswith(PNG_MAGIC))
        self.assertGreater(len(data), 10000)  # axes, bars and text, not an empty canvas
        return data

    def test_migration_chart(self):
        self.draw(plots.migration, migration_rows())

    def test_migration_chart_of_no_runs(self):
        self.draw(plots.migration, [])

    def test_balloon_chart(self):
        self.draw(plots.balloon, balloon_rows())

    def test_the_chart_shows_the_figures(self):
        # Two different runs give two different pictures.
        rows = migration_rows()
        other = json.loads(json.dumps(rows))
        other[0]["round_history"][0]["bytes_sent"] = 10 * MIB
        self.assertNotEqual(self.draw(plots.migration, rows), self.draw(plots.migration, other))


if __name__ == "__main__":
    unittest.main()
