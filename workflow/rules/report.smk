# Paper-style tables and figures from every eval JSON (METHOD.md 7). `snakemake --report
# report.html` collects them with the captions in workflow/report/.

# The stylize job behind a StylizedNeRF row: its metadata.json records the style module's fit to
# the fine-tuned decoder ("fit": {"mimic_psnr": dB}), the tables' mimic PSNR. (rule, metadata.json)
FIT_SOURCES = {
    "stylizednerf": ("stylize", "results/{scene}/{style}/stylize/metadata.json"),
    "sequential": ("stylize_sequential", "results/{scene}/{style}/stylize_sequential/metadata.json"),
}
# The 3D methods' cost per style: (rule of the training job, its metadata.json, the render job's
# metadata.json): the tables' "train s" and "render FPS".
TIMING_SOURCES = {
    "stylizednerf": ("stylize", "results/{scene}/{style}/stylize/metadata.json",
                     "results/{scene}/{style}/render/metadata.json"),
    "sequential": ("stylize_sequential", "results/{scene}/{style}/stylize_sequential/metadata.json",
                   "results/{scene}/{style}/render_sequential/metadata.json"),
    "arf": ("arf", "results/{scene}/{style}/arf/stylize/metadata.json",
            "results/{scene}/{style}/arf/render/metadata.json"),
}


rule report:
    input:
        evals=lambda wc: expand("results/{scene}/{style}/eval/{method}.json", scene=SCENES, style=STYLES,
                                method=eval_methods()),
        fits=lambda wc: [entry[-1] for entry in fit_entries()],
        timings=lambda wc: [path for entry in timing_entries() for path in entry[-2:]],
        # what the figures read besides the JSONs: each row's frames and error maps, the styles
        frames=lambda wc: sorted({os.path.join(EVAL_SOURCES[method].format(scene=scene, style=style), "frames")
                                  for scene in SCENES for style in STYLES for method in eval_methods()}),
        maps=lambda wc: expand("results/{scene}/{style}/eval/{method}_maps.npz", scene=SCENES, style=STYLES,
                               method=eval_methods()),
        styles=expand("results/styles/{style}.png", style=STYLES),
    output:
        # each table as CSV, Markdown, LaTeX, and an HTML page for the report (which offers CSV and
        # Markdown only as downloads)
        multiext("results/report/table_mean", ".csv", ".md", ".tex"),
        report("results/report/table_mean.html", caption="../report/table.rst", category="Tables"),
        expand("results/report/table_{scene}.{ext}", scene=SCENES, ext=["csv", "md", "tex"]),
        report(expand("results/report/table_{scene}.html", scene=SCENES),
               caption="../report/table_scene.rst", category="Tables"),
        expand("results/report/per_style/{scene}_{style}.{ext}", scene=SCENES, style=STYLES, ext=["csv", "md", "tex"]),
        report(expand("results/report/per_style/{scene}_{style}.html", scene=SCENES, style=STYLES),
               caption="../report/table_style.rst", category="Tables", subcategory="Per style"),
        # the consistency columns again under the NeRF's median-depth warp (evaluate --median-depth)
        multiext("results/report/table_mean_median_warp", ".csv", ".md", ".tex"),
        report("results/report/table_mean_median_warp.html", caption="../report/table_median_warp.rst",
               category="Tables"),
        expand("results/report/table_{scene}_median_warp.{ext}", scene=SCENES, ext=["csv", "md", "tex"]),
        report(expand("results/report/table_{scene}_median_warp.html", scene=SCENES),
               caption="../report/table_median_warp.rst", category="Tables"),
        report("results/report/error_vs_gap.png", caption="../report/error_vs_gap.rst", category="Figures"),
        report(expand("results/report/grid_{scene}_{style}.png", scene=SCENES, style=STYLES),
               caption="../report/grid.rst", category="Figures"),
        report(expand("results/report/error_maps_{scene}_{style}.png", scene=SCENES, style=STYLES),
               caption="../report/error_maps.rst", category="Figures"),
        json="results/report/report.json",
    log:
        job_log("report"),
    benchmark:
        job_benchmark("report")
    params:
        settings=settings("report"),
        # --fit and --timing (common.smk), and the output folder, as the job names them
        metadata=lambda wc, input: report_options(input),
        out=folder_of("json"),
        # the generated demo's tables and figures say they are a smoke test
        smoke=" ".join(f"--smoke-test {scene}" for scene in SCENES if config["scenes"][scene]["source"] == "demo"),
    conda:
        "../../envs/metrics.yaml"
    shell:
        "python -m stylizednerf report --evals {input.evals} {params.metadata} {params.smoke} --out {params.out}"
        " --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_REPORT\" > {log} 2>&1"


BENCHMARK_JOBS["report"] = lambda: [{}] if eval_methods() else []
FINAL_OUTPUTS["report"] = lambda: ["results/report/report.json"] if eval_methods() else []


# Per-job wall time, memory (Snakemake's benchmark file of every job of the default run) and GPU
# peak (the last line of each GPU job's log): results/report/benchmarks.{csv,md}.
rule benchmark_table:
    input:
        benchmarks=lambda wc: [job[2] for job in benchmark_jobs()],
        logs=lambda wc: [job[3] for job in benchmark_jobs()],
    output:
        multiext("results/report/benchmarks", ".csv", ".md"),
        report("results/report/benchmarks.html", caption="../report/benchmarks.rst", category="Benchmarks"),
    log:
        job_log("benchmark_table"),
    # its own benchmark: not in the table it writes
    benchmark:
        job_benchmark("benchmark_table")
    params:
        # the job list as a file (like the settings): a printed command of a few lines, not kilobytes
        jobs=lambda wc: benchmark_jobs_file(),
        # where the job sees the list's paths (a storage plugin's local copies), and its output prefix
        root=lambda wc, input: benchmark_table_root(input),
        out=lambda wc, output: os.path.splitext(output[0])[0],
    conda:
        "../../envs/metrics.yaml"
    shell:
        "python -m stylizednerf benchmark-table --jobs {params.jobs} {params.root} --out {params.out} > {log} 2>&1"


FINAL_OUTPUTS["benchmark_table"] = lambda: ["results/report/benchmarks.md"]
