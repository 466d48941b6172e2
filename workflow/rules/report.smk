# Paper-style tables and figures from every eval JSON (METHOD.md 7). `snakemake --report
# report.html` collects them with the captions in workflow/report/.


rule report:
    input:
        evals=lambda wc: expand("results/{scene}/{style}/eval/{method}.json", scene=SCENES, style=STYLES,
                                method=eval_methods()),
    output:
        report(multiext("results/report/table_mean", ".csv", ".md", ".tex"),
               caption="../report/table.rst", category="Tables"),
        report(expand("results/report/table_{scene}.md", scene=SCENES),
               caption="../report/table_scene.rst", category="Tables"),
        report("results/report/error_vs_gap.png", caption="../report/error_vs_gap.rst", category="Figures"),
        report(expand("results/report/grid_{scene}_{style}.png", scene=SCENES, style=STYLES),
               caption="../report/grid.rst", category="Figures"),
        report(expand("results/report/error_maps_{scene}_{style}.png", scene=SCENES, style=STYLES),
               caption="../report/error_maps.rst", category="Figures"),
        json="results/report/report.json",
    log:
        "results/logs/report/report.log",
    params:
        settings=settings("report"),
    conda:
        "../../envs/torch.yaml"
    shell:
        "python -m stylizednerf report --evals {input.evals} --out results/report"
        " --settings {params.settings:q} > {log} 2>&1"


FINAL_OUTPUTS["report"] = lambda: ["results/report/report.json"] if eval_methods() else []
