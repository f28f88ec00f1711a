"""README's strategy example is real code: it loads by path and backtests."""

import json
import re
import sys

from tests.paths import ORCL_SAMPLE as SAMPLE
from tests.paths import ROOT
from tools.cli import main


def test_the_readme_breakout_strategy_backtests(tmp_path, monkeypatch, capsys):
    readme = (ROOT / "README.md").read_text()
    (code,) = re.findall(r"```python\n# breakout.py\n(.*?)```", readme, re.S)
    (tmp_path / "breakout.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))

    status = main(["backtest", "--data", str(SAMPLE), "--strategy", "breakout:Breakout", "--param", "lookback=20",
                   "--out", str(tmp_path / "out"), "--json"])

    report = json.loads(capsys.readouterr().out)
    assert status == 0 and report["bars"] == 5036
    assert report["closed_trades"] > 10
    assert all(t["entry_date"] < t["exit_date"] for t in report["trades"])
    sys.modules.pop("breakout", None)


def test_the_readme_names_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
