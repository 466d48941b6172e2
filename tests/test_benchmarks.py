"""The per-job benchmark table (stylizednerf/benchmarks.py): every number from a file a job wrote."""

import csv
import io

import pytest

from stylizednerf import benchmarks as B

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write_job(tmp_path, name, seconds, rss, cpu, gpu=None, split=None):
    tsv = tmp_path / f"{name}.tsv"
    tsv.write_text(HEADER + f"{seconds}\t0:00:01\t{rss}\t900.1\t100\t100\t0.00\t0.01\t55.5\t{cpu}\n")
    log = tmp_path / f"{name}.log"
    lines = ["training...", "done"]
    if split:
        lines.append(B.time_split_line("stylize", split))
    if gpu:
        lines.append(B.gpu_peak_line(*gpu))
    log.write_text("\n".join(lines) + "\n")
    return str(tsv), str(log)


def test_gpu_peak_line_round_trip(tmp_path):
    log = tmp_path / "job.log"
    log.write_text("x\n" + B.gpu_peak_line(3 * 2 ** 30 + 5, 4 * 2 ** 30, "cuda:1", 50000) + "\n")
    assert B.read_gpu_peak(log) == {"gpu_peak_allocated_mb": 3072, "gpu_peak_reserved_mb": 4096,
                                    "gpu_mem_mb_declared": 50000, "gpu_device": "cuda:1"}
    log.write_text(B.gpu_peak_line(2 ** 20, 2 ** 21, "cuda", None) + "\n")
    assert B.read_gpu_peak(log)["gpu_mem_mb_declared"] is None
    log.write_text("no gpu here\n")
    assert set(B.read_gpu_peak(log).values()) == {None}


def test_time_split_line_round_trip(tmp_path):
    log = tmp_path / "job.log"
    line = B.time_split_line("stylize", {"decoder steps": 26.548, "nerf steps": 53.8, "2D targets": 4.0})
    assert line == "stylize time: decoder steps 26.5 s, nerf steps 53.8 s, 2D targets 4.0 s"
    log.write_text("stylize time: old 1.0 s\n" + line + "\nfit of the 2D targets: 19 dB\n")
    assert B.read_time_split(log) == "decoder steps 26.5 s, nerf steps 53.8 s, 2D targets 4.0 s"  # the last one
    log.write_text("render: loading 1.0 s\n")
    assert B.read_time_split(log) is None
    assert B.read_time_split(tmp_path / "missing.log") is None


def test_table_from_benchmark_files_and_logs(tmp_path):
    a = write_job(tmp_path, "a", 12.5, 812.3, 20.1, (5 * 2 ** 30, 6 * 2 ** 30, "cuda:0", 8000),
                  {"decoder steps": 4.25, "nerf steps": 7.5})
    b = write_job(tmp_path, "b", 3.25, 101.0, 2.5)
    out = tmp_path / "report" / "benchmarks"
    out.parent.mkdir()
    from stylizednerf.__main__ import main

    assert main(["benchmark-table", "--job", "stylize", "demo,strokes", *a, "--job", "colmap", "demo", *b,
                 "--out", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "report" / "benchmarks.csv").read_text())))
    assert [r["rule"] for r in rows] == ["stylize", "colmap"]
    assert rows[0]["job"] == "demo,strokes"
    assert float(rows[0]["seconds"]) == 12.5 and float(rows[0]["max_rss_mb"]) == 812.3
    assert float(rows[0]["cpu_seconds"]) == 20.1 and float(rows[0]["mean_load"]) == 55.5
    assert rows[0]["gpu_peak_allocated_mb"] == "5120" and rows[0]["gpu_peak_reserved_mb"] == "6144"
    assert rows[0]["gpu_mem_mb_declared"] == "8000"
    assert rows[0]["time_split"] == "decoder steps 4.2 s, nerf steps 7.5 s"
    assert rows[1]["gpu_peak_allocated_mb"] == "" and float(rows[1]["seconds"]) == 3.25
    assert rows[1]["time_split"] == ""
    md = (tmp_path / "report" / "benchmarks.md").read_text()
    assert ("| stylize | demo,strokes | 12.50 | 812 | 20.10 | 55.50 | 5120 | 6144 | 8000 | cuda:0 "
            "| decoder steps 4.2 s, nerf steps 7.5 s |") in md
    assert "| colmap | demo | 3.25 | 101 | 2.50 | 55.50 |  |  |  |  |  |" in md
    assert "2 jobs, 16 s of job wall time" in md
    page = (tmp_path / "report" / "benchmarks.html").read_text()  # what the Snakemake report shows
    assert "<td>stylize</td><td>demo,strokes</td><td>12.50</td><td>812</td>" in page
    assert page.count("<tr>") == 3  # header + 2 jobs

    # the same jobs from a file (the workflow's way), give the same table
    jobs = tmp_path / "jobs.tsv"
    jobs.write_text("\t".join(["stylize", "demo,strokes", *a]) + "\n" + "\t".join(["colmap", "demo", *b]) + "\n")
    again = tmp_path / "again" / "benchmarks"
    again.parent.mkdir()
    assert main(["benchmark-table", "--jobs", str(jobs), "--out", str(again)]) == 0
    assert (again.parent / "benchmarks.md").read_text() == md
    with pytest.raises(SystemExit, match=r"^error: .*missing.tsv: cannot read the job list"):
        main(["benchmark-table", "--jobs", str(tmp_path / "missing.tsv"), "--out", str(again)])
    jobs.write_text("stylize demo a b\n")
    with pytest.raises(SystemExit, match=r"jobs.tsv:1: 1 tab-separated fields, want 4"):
        main(["benchmark-table", "--jobs", str(jobs), "--out", str(again)])


def test_missing_benchmark_file_is_one_line(tmp_path):
    from stylizednerf.__main__ import main

    with pytest.raises(SystemExit) as info:
        main(["benchmark-table", "--job", "x", "-", str(tmp_path / "none.tsv"), str(tmp_path / "none.log"),
              "--out", str(tmp_path / "t")])
    assert str(info.value.code).startswith("error: ") and "none.tsv" in str(info.value.code)
