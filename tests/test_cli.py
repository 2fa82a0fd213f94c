"""The `pfn` command's non-training subcommands."""

import json
import subprocess
import sys


def pfn(*args):
    return subprocess.run([sys.executable, "-m", "pfn.cli", *args], capture_output=True, text=True, timeout=120)


def test_help_lists_commands():
    out = pfn("--help")
    assert out.returncode == 0 and "train" in out.stdout and "evaluate" in out.stdout


def test_info_reads_a_checkpoint_header(checkpoint_file):
    out = pfn("info", str(checkpoint_file))
    assert out.returncode == 0
    assert json.loads(out.stdout)["architecture"] == "PFNTransformer"


def test_user_errors_are_one_line_not_tracebacks(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a checkpoint at all")
    for args, message in [(("info", "no-such-model"), "no checkpoint file or pretrained model named"),
                          (("evaluate", str(junk)), "not a readable safetensors file")]:  # fmt: skip
        out = pfn(*args)
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
