"""The convexnn command: round trips on CSV files, one-line errors, Ctrl-C, PyTorch models."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest

import convexnn as cnn
from convexnn import cli


def run(argv, capsys):
    """``(exit code, stdout, stderr)`` of ``convexnn argv``."""
    out = io.StringIO()
    try:
        code = cli.main([str(a) for a in argv], out=out)
    except SystemExit as exc:  # argparse: --help, usage errors
        code = exc.code
    captured = capsys.readouterr()
    return code, out.getvalue() + captured.out, captured.err


def assert_one_line_error(code, err):
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("convexnn") and "error" in lines[0]
    assert "Traceback" not in err


@pytest.fixture
def data_1d(tmp_path):
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(-2, 2, 25))
    y = np.abs(x) - 0.5 + 0.1 * rng.standard_normal(25)
    path = tmp_path / "train.csv"
    path.write_text("x,y\n" + "\n".join(f"{a:.17g},{b:.17g}" for a, b in zip(x, y)) + "\n")
    return path, x, y


def test_help_reads_well(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    for command in ("demo", "fit", "predict", "certify", "reproduce"):
        assert command in out
    assert "convexnn fit data.csv --target y" in out


def test_fit_predict_certify_round_trip(tmp_path, data_1d, capsys):
    path, x, y = data_1d
    model = tmp_path / "model.npz"
    plot = tmp_path / "fit.png"
    code, out, err = run(
        ["fit", path, "--target", "y", "--beta", "0.1", "--out", model, "--plot", plot, "--json"],
        capsys,
    )
    assert code == 0, err
    summary = json.loads(out)
    net = cnn.ReLUNetwork.load(model)
    prob = cnn.Problem(x[:, None], y, beta=0.1)
    # the reported objective is the saved network's, and 1-D data are certified exactly
    assert summary["objective"] == pytest.approx(prob.objective(net), rel=1e-12)
    assert summary["relative_gap"] <= 1e-6 and summary["exact"]
    assert summary["n_neurons"] == net.width
    reference = cnn.solve(prob, method="cvxpy")
    assert summary["objective"] == pytest.approx(reference.objective, rel=1e-5)
    assert plot.stat().st_size > 5_000
    meta = cnn.ReLUNetwork.load_metadata(model)
    assert meta["features"] == ["x"] and meta["target"] == "y" and meta["beta"] == 0.1

    preds = tmp_path / "pred.csv"
    code, out, err = run(["predict", model, path, "--out", preds], capsys)
    assert code == 0, err
    lines = preds.read_text().splitlines()
    assert lines[0] == "prediction"
    np.testing.assert_allclose([float(v) for v in lines[1:]], net.predict(x[:, None]), rtol=1e-12)

    code, out, err = run(["certify", model, path, "--target", "y", "--json"], capsys)
    assert code == 0, err
    cert = json.loads(out)
    assert cert["beta"] == 0.1 and cert["loss"] == "squared"
    assert cert["lower_bound"] <= reference.objective * (1 + 1e-9)
    assert cert["relative_gap"] <= 1e-6


def test_predict_to_stdout_without_target_column(tmp_path, data_1d, capsys):
    path, x, _ = data_1d
    model = tmp_path / "m.npz"
    assert run(["fit", path, "--target", "y", "--out", model, "--quiet"], capsys)[0] == 0
    new = tmp_path / "new.csv"
    new.write_text("x\n0.5\n-1.0\n")
    code, out, err = run(["predict", model, new], capsys)
    assert code == 0, err
    net = cnn.ReLUNetwork.load(model)
    values = [float(v) for v in out.splitlines()[1:]]
    np.testing.assert_allclose(values, net.predict(np.array([[0.5], [-1.0]])), rtol=1e-12)


def test_human_output(tmp_path, data_1d, capsys):
    path, *_ = data_1d
    code, out, err = run(["fit", path, "--target", "y", "--out", tmp_path / "m.npz"], capsys)
    assert code == 0, err
    for label in ("objective", "lower bound", "gap", "neurons", "time", "model"):
        assert label in out
    assert "certified" in out


def test_hinge_with_01_labels(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((16, 2))
    labels = (X[:, 0] * X[:, 1] > 0).astype(int)
    path = tmp_path / "cls.csv"
    rows = "\n".join(f"{a:.17g},{b:.17g},{c}" for (a, b), c in zip(X, labels))
    path.write_text("a,b,label\n" + rows + "\n")
    model = tmp_path / "cls.npz"
    code, out, err = run(
        [
            "fit",
            path,
            "--target",
            "label",
            "--loss",
            "hinge",
            "--beta",
            "0.5",
            "--out",
            model,
            "--json",
            "--plot",
            tmp_path / "regions.png",
        ],
        capsys,
    )
    assert code == 0, err
    summary = json.loads(out)
    prob = cnn.Problem(X, np.where(labels == 1, 1.0, -1.0), beta=0.5, loss="hinge")
    reference = cnn.solve(prob, method="cvxpy")  # full enumeration: the global optimum
    assert summary["objective"] == pytest.approx(reference.objective, rel=1e-5)
    assert summary["lower_bound"] <= reference.objective * (1 + 1e-9)
    code, out, err = run(["predict", model, path], capsys)
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header == "prediction,score"
    predicted = np.array([float(r.split(",")[0]) for r in rows])
    assert set(np.unique(predicted)) <= {0.0, 1.0}
    assert np.mean(predicted == labels) >= 0.8


def test_certify_torch_state_dict(tmp_path, data_1d, capsys):
    torch = pytest.importorskip("torch")
    path, x, y = data_1d
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    model = model.double()
    file = tmp_path / "model.pt"
    torch.save(model.state_dict(), file)
    code, out, err = run(
        ["certify", file, path, "--target", "y", "--beta", "0.1", "--json"], capsys
    )
    assert code == 0, err
    cert = json.loads(out)
    net = cnn.ReLUNetwork.from_torch(model)
    prob = cnn.Problem(x[:, None], y, beta=0.1)
    assert cert["model_kind"] == "torch"
    assert cert["objective"] == pytest.approx(prob.objective(net), rel=1e-12)
    optimum = cnn.solve(prob, method="cvxpy").objective
    assert cert["lower_bound"] <= optimum * (1 + 1e-9)
    assert cert["exact"]  # 1-D: the exact oracle, so the bound is the best for this v
    assert cert["lower_bound"] == pytest.approx(cnn.certify(prob, net).lower_bound, rel=1e-9)

    code, _, err = run(["certify", file, path, "--target", "y"], capsys)
    assert_one_line_error(code, err)
    assert "--beta is required" in err


@pytest.mark.parametrize(
    ("content", "argv_extra", "message"),
    [
        ("x,y\n1,a\n2,b\n", [], "non-numeric"),
        ("x,y\n1,2\n3,\n", [], "missing or infinite"),
        ("x,z\n1,2\n3,4\n", [], "no column 'y'"),
        ("", [], "not a readable CSV"),
    ],
)
def test_bad_csv_is_one_line(tmp_path, capsys, content, argv_extra, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, _, err = run(["fit", path, "--target", "y", "--out", tmp_path / "m.npz"], capsys)
    assert_one_line_error(code, err)
    assert message in err
    assert not (tmp_path / "m.npz").exists()


def test_missing_data_file(tmp_path, capsys):
    code, _, err = run(["fit", tmp_path / "nope.csv", "--target", "y", "--out", "m.npz"], capsys)
    assert_one_line_error(code, err)
    assert "not found" in err


@pytest.mark.parametrize("kind", ["text", "npy", "missing"])
def test_wrong_model_file(tmp_path, data_1d, capsys, kind):
    path, *_ = data_1d
    model = tmp_path / "model.bin"
    if kind == "text":
        model.write_text("not a model\n")
    elif kind == "npy":
        np.save(model, np.ones(3))
        model = tmp_path / "model.bin.npy"
    for argv in (["predict", model, path], ["certify", model, path, "--target", "y"]):
        code, _, err = run(argv, capsys)
        assert_one_line_error(code, err)
        assert ("not found" if kind == "missing" else "neither a convexnn model") in err


def test_model_and_data_disagree(tmp_path, data_1d, capsys):
    path, *_ = data_1d
    model = tmp_path / "m.npz"
    cnn.ReLUNetwork(np.ones((3, 2)), np.zeros(2), np.ones(2), 0.0).save(model)
    code, _, err = run(["predict", model, path], capsys)
    assert_one_line_error(code, err)
    assert "takes 3 input column(s)" in err


def test_usage_errors_are_one_line(capsys):
    code, _, err = run(["fit"], capsys)
    assert_one_line_error(code, err)
    code, _, err = run(["fit", "a.csv", "--target", "y", "--out", "m", "--beta", "-1"], capsys)
    assert_one_line_error(code, err)
    assert "positive number" in err


def test_binary_loss_needs_two_classes(tmp_path, data_1d, capsys):
    path, *_ = data_1d
    code, _, err = run(["fit", path, "--target", "y", "--loss", "hinge", "--out", "m"], capsys)
    assert_one_line_error(code, err)
    assert "exactly two classes" in err


def test_parquet_without_engine(tmp_path, capsys, monkeypatch):
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "fastparquet", None)
    code, _, err = run(["fit", path, "--target", "y", "--out", tmp_path / "m.npz"], capsys)
    assert_one_line_error(code, err)
    assert "pyarrow" in err


def test_ctrl_c_saves_best_model(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((14, 2))
    y = np.sin(X[:, 0]) + np.abs(X[:, 1])
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n" + "\n".join(f"{a:.17g},{b:.17g},{c:.17g}" for (a, b), c in zip(X, y)))
    calls = []

    def interrupt(self, info):
        calls.append(info)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli.Progress, "__call__", interrupt)
    model = tmp_path / "m.npz"
    code, out, err = run(
        ["fit", path, "--target", "y", "--beta", "0.1", "--out", model, "--json"], capsys
    )
    assert code == 130, err
    summary = json.loads(out)
    assert summary["status"] == "interrupted"
    net = cnn.ReLUNetwork.load(model)
    prob = cnn.Problem(X, y, beta=0.1)
    assert prob.objective(net) == pytest.approx(summary["objective"], rel=1e-12)
    assert summary["objective"] <= calls[-1]["objective"] * (1 + 1e-12)  # the best so far
    assert summary["lower_bound"] <= cnn.solve(prob, method="cvxpy").objective * (1 + 1e-9)


def test_progress_line_format():
    info = {"iteration": 3, "width": 12, "objective": 10.0, "lower_bound": 9.0, "elapsed": 1.25}
    line = cli.Progress.format(info)
    assert line == "iter    3  width   12  objective 10  lower bound 9  gap 1.00e-01  1.2s"
    stream = io.StringIO()
    progress = cli.Progress(stream, every=0.0)
    progress(info)
    progress({"step": 5, "objective": 2.0, "time": 0.5})
    assert stream.getvalue().splitlines()[1] == "iter    5  objective 2  0.5s"


def test_reproduce_unknown_is_one_line(tmp_path, capsys):
    code, _, err = run(["reproduce", "no-such-figure", "--out", tmp_path / "r"], capsys)
    assert_one_line_error(code, err)


def test_demo_plumbing(tmp_path, capsys, monkeypatch):
    """The demo's steps on a small slice of diabetes (the full demo is ``make demo``)."""
    from convexnn import datasets

    X, y = datasets.load_diabetes()
    monkeypatch.setattr(datasets, "load_diabetes", lambda standardize=True: (X[:60, :3], y[:60]))
    out_png = tmp_path / "demo.png"
    code, out, err = run(["demo", "--out", out_png, "--json", "--time-limit", "20"], capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["bmi_only"]["relative_gap"] <= 1e-6  # 1-D: exact certificate
    full = summary["all_features"]
    assert full["lower_bound"] <= full["objective"]
    assert full["n_neurons"] >= 1 and summary["plot"] == str(out_png)
    assert out_png.stat().st_size > 10_000


@pytest.mark.slow
def test_full_demo(tmp_path, capsys):
    out_png = tmp_path / "demo.png"
    code, out, err = run(["demo", "--out", out_png], capsys)
    assert code == 0, err
    for label in ("objective", "lower bound", "gap", "neurons", "time", "plot"):
        assert label in out
    assert out_png.stat().st_size > 10_000


def test_reproduce_dispatches_to_experiments(tmp_path, capsys, monkeypatch):
    experiments = pytest.importorskip("convexnn.experiments")
    calls = []

    def fake_run(name, out_dir, quick=False):
        calls.append((name, str(out_dir), quick))
        return {"report": f"{out_dir}/report.md", "figures": [f"{out_dir}/a.png"], "holds": True}

    monkeypatch.setattr(experiments, "run", fake_run)
    code, out, err = run(["reproduce", "fig6", "--out", tmp_path, "--quick", "--json"], capsys)
    assert code == 0, err
    assert calls == [("fig6", str(tmp_path), True)]
    summary = json.loads(out)
    assert summary["holds"] is True and summary["figures"] == [f"{tmp_path}/a.png"]


@pytest.mark.slow
def test_reproduce_quick_for_real(tmp_path, capsys):
    code, out, err = run(["reproduce", "fig8", "--out", tmp_path, "--quick", "--json"], capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["report"] and all(p.endswith(".png") for p in summary["figures"])
