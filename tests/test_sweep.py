"""The data-size sweep: subsets, the step rule, resuming, the report and a tiny sweep on the real data."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from container_edu.training import sweep
from container_edu.training import sweep_report
from container_edu.__main__ import main
from container_edu.training.train import balanced_subset

REPO = Path(__file__).resolve().parents[1]


def _fake_run(variant: str, size: int, seed: int, test: float, blend: dict | None = None) -> dict:
    job = sweep.Job(variant, size, seed, 1000)
    return {"key": job.key, "variant": variant, "train_size": size, "seed": seed, "test_accuracy": test,
            "val_accuracy": test - 0.5, "steps": 1000, "wall_time_seconds": 12.5, "epochs": 125,
            "blend": blend or {}, "source": "test"}


def _write(path, runs, pilot=()):
    path.write_text(json.dumps({"pilot": list(pilot), "runs": runs}))


def _cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


# ---------------------------------------------------------------- subsets and the recipe


def test_balanced_subset_has_equal_classes_is_deterministic_and_depends_on_the_seed():
    labels = torch.arange(5000) % 10
    pool = torch.randperm(5000, generator=torch.Generator().manual_seed(3))[:4000].sort().values
    subset = balanced_subset(labels, pool, 1000, seed=1)
    assert len(subset) == len(set(subset.tolist())) == 1000
    assert set(subset.tolist()) <= set(pool.tolist())
    assert torch.bincount(labels[subset], minlength=10).tolist() == [100] * 10
    assert torch.equal(subset, balanced_subset(labels, pool, 1000, seed=1))
    assert not torch.equal(subset, balanced_subset(labels, pool, 1000, seed=2))
    uneven = balanced_subset(labels, pool, 23, seed=0)
    assert sorted(torch.bincount(labels[uneven], minlength=10).tolist()) == [2] * 7 + [3] * 3
    with pytest.raises(ValueError, match="class"):
        balanced_subset(labels, pool[:50], 100, seed=0)


def test_settings_differ_between_variants_only_in_the_mixing_and_keep_the_bundled_recipe_at_full_size():
    for size in sweep.SIZES:
        first, *others = (sweep.settings_for(v, size, 1, 1000) for v in sweep.MIXINGS)
        for other in others:
            assert {k: v for k, v in vars(other).items() if k != "mixing"} == \
                   {k: v for k, v in vars(first).items() if k != "mixing"}
    full = sweep.settings_for("conv", sweep.FULL_SIZE, 0, 1000)
    assert (full.epochs, full.warmup_epochs, full.train_subset, full.balanced_subset) == (10, 1.0, None, False)
    assert sweep.total_steps(full) == 4220
    small = sweep.settings_for("conv", 1000, 0, 1000)
    assert sweep.total_steps(small) >= 1000 and small.warmup_epochs == small.epochs / 10 and small.balanced_subset


def test_pilot_rule_takes_the_smallest_candidate_within_tolerance_for_both_variants():
    def pilot(values):
        return [{"variant": v, "min_steps": m, "val_accuracy": values[v][i]}
                for v in sweep.PILOT_VARIANTS for i, m in enumerate(sweep.PILOT_CANDIDATES)]

    assert sweep.chosen_min_steps([]) is None
    assert sweep.chosen_min_steps(pilot({"conv": [80.0, 80.2, 80.1], "attention": [75.0, 75.3, 75.4]})) == 500
    assert sweep.chosen_min_steps(pilot({"conv": [80.0, 80.2, 80.1], "attention": [74.0, 75.3, 75.4]})) == 1000
    assert sweep.chosen_min_steps(pilot({"conv": [78.0, 79.0, 80.0], "attention": [75.0, 75.3, 75.4]})) == 2000
    assert sweep.chosen_min_steps(pilot({"conv": [80.0, 80.0, 80.0], "attention": [75.0, 75.0, 75.0]})[:-1]) is None


def test_bundled_full_size_cards_count_only_with_the_same_recipe(tmp_path):
    weights = tmp_path / "weights"
    shutil.copytree(sweep.WEIGHTS_DIR, weights, ignore=shutil.ignore_patterns("*.safetensors", "*_n*"))
    card = json.loads((weights / "fmnist_conv.json").read_text())
    card["training"]["lr"] = 1e-3
    (weights / "fmnist_conv.json").write_text(json.dumps(card))
    results = tmp_path / "results.json"
    imported = sweep.import_bundled_runs(results, 1000, weights)
    assert "fmnist_conv.json" not in imported and sorted(imported) == sorted(
        f"fmnist_{v}.json" for v in sweep.MIXINGS if v != "conv")
    runs = sweep.load_results(results)["runs"]
    for run in runs:
        bundled = json.loads((weights / f"fmnist_{run['variant']}.json").read_text())
        assert (run["train_size"], run["seed"], run["steps"]) == (54_000, 0, 4220)
        assert run["test_accuracy"] == bundled["metrics"]["test_accuracy"] and run["blend"] == bundled["final_blend"]
    assert sweep.import_bundled_runs(results, 1000, weights) == []  # already counted


# ---------------------------------------------------------------- report


def test_report_json_has_exactly_the_agreed_keys(tmp_path):
    results = tmp_path / "results.json"
    _write(results, [_fake_run("conv", 1000, 0, 80.0), _fake_run("attention", 1000, 0, 77.0)])
    code, out = _cli("sweep", "report", "--json", "--results", str(results))
    rows = json.loads(out)
    assert code == 0 and len(rows) == 2
    for row in rows:
        assert tuple(row) == sweep.REPORT_KEYS
    assert {(r["variant"], r["test_accuracy"]) for r in rows} == {("conv", 80.0), ("attention", 77.0)}


def test_report_table_shows_mean_std_n_and_ranks_only_separated_intervals(tmp_path):
    conv, attention, mixer = [80.0, 81.0, 82.0], [75.0, 75.5, 76.0], [79.0, 83.0]
    runs = [_fake_run("conv", 1000, s, a) for s, a in enumerate(conv)]
    runs += [_fake_run("attention", 1000, s, a) for s, a in enumerate(attention)]
    runs += [_fake_run("mixer", 1000, s, a) for s, a in enumerate(mixer)]
    runs.append(_fake_run("container", 1000, 0, 90.0))
    results = tmp_path / "results.json"
    _write(results, runs)
    code, out = _cli("sweep", "report", "--results", str(results))
    assert code == 0
    assert f"{statistics.mean(conv):.2f} ± {statistics.stdev(conv):.2f} (n=3)" in out
    assert f"{statistics.mean(mixer):.2f} ± {statistics.stdev(mixer):.2f} (n=2)" in out
    assert "90.00 (n=1)" in out
    ranking = next(line for line in out.splitlines() if line.startswith("- 1,000 images"))
    # conv and mixer overlap; one seed (container) is never ranked.
    assert "conv > attention" in ranking and "mixer > attention" in ranking
    assert "conv > mixer" not in ranking and "mixer > conv" not in ranking and "container" not in ranking
    assert "runs finished: 9 of 45" in out


def test_blend_summary_averages_alpha_and_beta_per_block():
    runs = [_fake_run("container", 1000, s, 80.0, {"blocks2.0": [a, 0.5]}) for s, a in enumerate([0.2, 0.4])]
    cell = sweep_report.blend_summary(runs)[("container", 1000, "blocks2.0")]
    assert cell["n"] == 2 and cell["alpha"] == pytest.approx(0.3) and cell["beta"] == pytest.approx(0.5)
    assert cell["alpha_std"] == pytest.approx(statistics.stdev([0.2, 0.4]))


# ---------------------------------------------------------------- running


def test_finished_runs_are_skipped_without_touching_the_data(tmp_path):
    results = tmp_path / "results.json"
    runs = [_fake_run(v, 20, s, 50.0) for v in ("conv", "mixer") for s in (0, 1)]
    for run in runs:
        run["key"] = sweep.Job(run["variant"], 20, run["seed"], 3).key
    _write(results, runs)
    before = results.read_text()
    trained = sweep.run_sweep(results_path=results, state_dir=tmp_path / "state", weights_dir=tmp_path / "w",
                              data_dir=str(tmp_path / "no-data-here"), sizes=(20,), seeds=(0, 1),
                              variants=("conv", "mixer"), min_steps=3)
    assert trained == 0 and results.read_text() == before


HOLD_A_CLAIM = """
import sys
from pathlib import Path
from container_edu.training import sweep
claim = sweep._claim(Path(sys.argv[1]), sweep.Job("conv", 20, 0, 3))
print("held" if claim else "refused", flush=True)
sys.stdin.read()
"""


def test_a_claimed_run_is_left_to_its_live_owner_and_taken_over_from_a_dead_one(tmp_path):
    job, state = sweep.Job("conv", 20, 0, 3), tmp_path / "state"
    owner = subprocess.Popen([sys.executable, "-c", HOLD_A_CLAIM, str(state)], cwd=REPO, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "held"
        assert sweep._claim(state, job) is None  # another live process runs it
        assert sweep._claim(state, sweep.Job("conv", 20, 1, 3)) is not None  # other runs stay free
    finally:
        owner.kill()  # a crash: the owner never gives its claim back itself
        owner.wait(30)
    claim = sweep._claim(state, job)
    assert claim is not None
    try:
        assert sweep._claim(state, job) is None  # held by this process now, even against this process
    finally:
        claim.release()


# Each fake run waits until two different runs are under way at once, so the test cannot pass unless the two
# processes really work side by side; every run is then recorded through the shared results file.
SHARE_THE_WORK = """
import os, sys, time
from pathlib import Path
from container_edu.training import sweep

results, state, marks = (Path(p) for p in sys.argv[1:4])

def fake_run_job(job, *, results_path, **_):
    (marks / f"{job.key}.{os.getpid()}").touch()
    deadline = time.monotonic() + 60
    while len({p.name.split(".")[0] for p in marks.iterdir()}) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    sweep._append(results_path, "runs", {"key": job.key, "variant": job.variant, "train_size": job.train_size,
                                         "seed": job.seed, "steps": 1})

sweep.run_job = fake_run_job
print(sweep.run_sweep(results_path=results, state_dir=state, weights_dir=state / "w", sizes=(20,), seeds=(0, 1),
                      variants=("conv", "mixer", "attention"), min_steps=3))
"""


def test_two_processes_share_the_runs_and_train_each_once(tmp_path):
    results, state, marks = tmp_path / "results.json", tmp_path / "state", tmp_path / "marks"
    marks.mkdir()
    workers = [subprocess.Popen([sys.executable, "-c", SHARE_THE_WORK, str(results), str(state), str(marks)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], [err[-2000:] for _, err in outputs]
    planned = {job.key for job in sweep.planned_jobs(3, sizes=(20,), seeds=(0, 1),
                                                       variants=("conv", "mixer", "attention"))}
    started = [mark.name.split(".") for mark in marks.iterdir()]
    assert sorted(key for key, _ in started) == sorted(planned)  # each run started once, none twice
    assert {pid for _, pid in started} == {str(worker.pid) for worker in workers}  # both worked
    assert sum(int(out) for out, _ in outputs) == len(planned)
    assert {r["key"] for r in sweep.load_results(results)["runs"]} == planned  # no write lost


@pytest.fixture(scope="module")
def fashion_mnist_available():
    from container_edu.data import DatasetError, load_fashion_mnist

    try:
        load_fashion_mnist("test")
    except DatasetError as error:
        pytest.skip(f"Fashion-MNIST is not installed: {error}")


@pytest.mark.dataset
def test_tiny_sweep_end_to_end_on_the_real_data(tmp_path, monkeypatch, fashion_mnist_available):
    """Two variants see the same subset; results, report and the bundled card come from the command."""
    import container_edu.training.train as train_module
    from container_edu.hub.bundled import list_pretrained, load_pretrained

    subsets = []

    def recording_subset(*args, **kwargs):
        subsets.append(balanced_subset(*args, **kwargs))
        return subsets[-1]

    monkeypatch.setattr(train_module, "balanced_subset", recording_subset)
    monkeypatch.setattr(sweep, "BUNDLED_SIZES", (20,))
    results, weights = tmp_path / "results.json", tmp_path / "weights"
    argv = ["sweep", "run", "--sizes", "20", "--seeds", "0", "--variants", "conv", "container", "--min-steps", "3",
            "--validations", "1", "--results", str(results), "--state-dir", str(tmp_path / "state"),
            "--weights-dir", str(weights)]
    code, out = _cli(*argv)
    assert code == 0 and "trained 2 run(s)" in out
    assert len(subsets) == 2 and torch.equal(subsets[0], subsets[1]) and len(subsets[0]) == 20

    runs = {r["variant"]: r for r in sweep.load_results(results)["runs"]}
    assert set(runs) == {"conv", "container"}
    for run in runs.values():
        assert run["steps"] == 10 and 0 <= run["test_accuracy"] <= 100 and run["wall_time_seconds"] > 0
    assert runs["conv"]["blend"] == {} and set(runs["container"]["blend"]) == {"blocks2.0", "blocks2.1"}
    cards = list_pretrained(weights)
    assert set(cards) == {"fmnist_conv_n20", "fmnist_container_n20"}
    assert cards["fmnist_container_n20"].test_accuracy == runs["container"]["test_accuracy"]
    assert {k: list(v) for k, v in cards["fmnist_container_n20"].final_blend.items()} == runs["container"]["blend"]
    load_pretrained("fmnist_container_n20", device="cpu", weights_dir=weights)
    left = list((tmp_path / "state").glob("*"))
    assert all(path.suffix == ".claim" for path in left)  # no states left behind, only the (empty) lock files
    claims = [sweep._claim(tmp_path / "state", sweep.Job(v, 20, 0, 3)) for v in ("conv", "container")]
    assert all(claim is not None for claim in claims)  # and none is still held
    for claim in claims:
        claim.release()

    code, out = _cli(*argv)
    assert code == 0 and "trained 0 run(s)" in out
    code, out = _cli("sweep", "report", "--json", "--results", str(results))
    assert len(json.loads(out)) == 2


@pytest.mark.dataset
def test_an_interrupted_run_resumes_to_the_same_result(tmp_path, monkeypatch, fashion_mnist_available):
    import container_edu.training.train as train_module

    kwargs = dict(state_dir=tmp_path / "state", weights_dir=tmp_path / "w", sizes=(20,), seeds=(0,),
                  variants=("mixer",), min_steps=3, validations=2)
    straight = tmp_path / "straight.json"
    sweep.run_sweep(results_path=straight, **kwargs)

    real_train = train_module.train

    def interrupted_train(*args, **kw):
        def stop_after_epoch_7(log):
            if log.epoch == 7:
                raise KeyboardInterrupt

        return real_train(*args, on_epoch=stop_after_epoch_7, **kw)

    monkeypatch.setattr(sweep, "train", interrupted_train)
    resumed = tmp_path / "resumed.json"
    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep(results_path=resumed, **kwargs)
    kept = [p.name for p in (tmp_path / "state").glob("*") if p.suffix != ".claim"]  # a lock file may stay
    assert kept == [f"{sweep.Job('mixer', 20, 0, 3).key}.state.pt"]
    assert sweep.load_results(resumed)["runs"] == []
    monkeypatch.setattr(sweep, "train", real_train)
    assert sweep.run_sweep(results_path=resumed, **kwargs) == 1
    (first,), (second,) = sweep_report.report_rows(straight), sweep_report.report_rows(resumed)
    assert (first["test_accuracy"], first["val_accuracy"]) == (second["test_accuracy"], second["val_accuracy"])


# ---------------------------------------------------------------- the Model zoo page


def _zoo_page():
    from apptest_support import ZOO, start

    return start(ZOO)


def _figure(at, title_start: str) -> dict:
    from apptest_support import figure_titled

    return figure_titled(at, "^" + re.escape(title_start))


def test_zoo_page_plots_the_sweep_from_the_results_file(tmp_path, monkeypatch):
    conv = [80.0, 81.0, 82.0]
    runs = [_fake_run("conv", 1000, s, a) for s, a in enumerate(conv)] + [_fake_run("conv", 54_000, 0, 91.0)]
    runs += [_fake_run("container", 1000, s, 79.0 + s, {"blocks2.0": [a, 0.6], "blocks2.1": [0.7, 0.5]})
             for s, a in enumerate([0.2, 0.3, 0.4])]
    results = tmp_path / "results.json"
    _write(results, runs)
    monkeypatch.setattr(sweep, "RESULTS_PATH", results)
    at = _zoo_page()

    accuracy = _figure(at, "Test accuracy against training-set size")
    assert accuracy["layout"]["xaxis"]["type"] == "log"
    (conv_trace,) = [t for t in accuracy["data"] if t["name"] == "conv"]
    assert conv_trace["x"] == [1000, 54_000] and conv_trace["y"][0] == pytest.approx(statistics.mean(conv))
    assert conv_trace["error_y"]["array"][0] == pytest.approx(statistics.stdev(conv))
    assert conv_trace["customdata"] == [3, 1]

    blend = _figure(at, "Learned blend against training-set size")
    (alpha,) = [t for t in blend["data"] if t["name"] == "container · blocks2.0 · α"]
    assert alpha["y"] == [pytest.approx(0.3)] and alpha["error_y"]["array"] == [pytest.approx(0.1)]
    (beta,) = [t for t in blend["data"] if t["name"] == "container · blocks2.1 · β"]
    assert beta["y"] == [pytest.approx(0.5)]
    assert any("81.00 ± 1.00 (n=3)" in m.value for m in at.markdown)
    # The sweep's bundled small-data models (hundreds of short epochs) stay out of the per-epoch curves.
    per_epoch = _figure(at, "Accuracy per epoch")
    assert per_epoch["data"] and not any("_n" in trace["name"].split(" ")[0] for trace in per_epoch["data"])


def test_zoo_page_without_sweep_results_says_how_to_make_them(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "RESULTS_PATH", tmp_path / "none.json")
    at = _zoo_page()
    assert any("sweep run" in info.value for info in at.info)
    assert not [f for f in at.get("plotly_chart") if "training-set size" in json.loads(f.proto.spec)["layout"]
                .get("title", {}).get("text", "")]


def test_the_results_pages_table_is_the_report_of_the_committed_results():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / sweep_report.RESULTS_DOC).read_text()
    assert sweep_report.report_block(page) == sweep_report.report_markdown(), \
        "regenerate it: python -m container_edu sweep report --update-doc"


def test_update_doc_rewrites_only_the_block_between_the_markers(tmp_path, capsys):
    from container_edu.__main__ import build_parser, main

    page = tmp_path / "results.md"
    page.write_text(f"# before\n{sweep_report.BLOCK_START}\nan old table\n{sweep_report.BLOCK_END}\nafter\n")
    assert main(["sweep", "report", "--update-doc", str(page)]) == 0
    text = page.read_text()
    assert sweep_report.report_block(text) == sweep_report.report_markdown()
    assert text.startswith("# before\n") and text.endswith(f"{sweep_report.BLOCK_END}\nafter\n")
    assert build_parser().parse_args(["sweep", "report", "--update-doc"]).update_doc == sweep_report.RESULTS_DOC
    page.write_text("no markers here")
    assert main(["sweep", "report", "--update-doc", str(page)]) == 2
    assert "no sweep-report markers" in capsys.readouterr().err


def test_zoo_rows_say_how_many_images_a_model_saw():
    import dataclasses

    from container_edu.training.zoo_report import card_row, is_sweep_model, training_images
    from container_edu.hub.cards import zoo_card

    full = zoo_card(training={"train_subset": None, "val_fraction": 0.1})
    small = zoo_card(training={"train_subset": 1000, "val_fraction": 0.1, "balanced_subset": True})
    assert training_images(full) == 54_000 and not is_sweep_model(full)
    assert training_images(small) == 1000 and is_sweep_model(small)
    assert training_images(dataclasses.replace(small, training=None)) is None
    assert card_row(small)["training images"] == 1000


def test_zoo_table_columns_are_the_cores_and_all_marked_for_translation():
    from app.zoo import COLUMNS
    from container_edu.hub.bundled import list_pretrained
    from container_edu.training.zoo_report import TABLE_COLUMNS, card_row, session_row

    assert COLUMNS == TABLE_COLUMNS
    card = next(iter(list_pretrained().values()))
    assert tuple(card_row(card)) == TABLE_COLUMNS
    assert set(session_row("mine", {"history": [], "settings": {}})) <= set(TABLE_COLUMNS)


def test_remaining_estimate_counts_the_missing_steps_at_each_variants_measured_rate():
    assert sweep_report.remaining_seconds({"pilot": [], "runs": []}, None) is None
    runs = [_fake_run(v, n, s, 80.0) for v in sweep.MIXINGS for n in sweep.SIZES for s in sweep.SEEDS]
    missing = runs.pop()  # container_light at 54,000, seed 2
    for run in runs:
        run["wall_time_seconds"], run["steps"] = (4.0 if run["variant"] == "container_light" else 1.0), 10
    steps, seconds = sweep_report.remaining_seconds({"pilot": [], "runs": runs}, 1000, workers=2)
    assert (missing["variant"], missing["train_size"], missing["seed"]) == ("container_light", 54_000, 2)
    assert steps == 4220 and seconds == pytest.approx(4220 * 0.4 / 2)
