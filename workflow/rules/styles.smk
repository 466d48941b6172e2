# Every style as an RGB PNG: demo styles generated, files converted and downscaled.


rule prepare_style:
    input:
        style_inputs,
    output:
        png="results/styles/{style}.png",
        meta="results/styles/{style}.json",
    log:
        job_log("prepare_style", "{style}"),
    benchmark:
        job_benchmark("prepare_style", "{style}")
    params:
        source=lambda wc: config["styles"][wc.style],
        settings=settings("prepare-style"),
    conda:
        "../../envs/demo.yaml"
    shell:
        "python -m stylizednerf prepare-style --name {wildcards.style} --source {params.source:q}"
        " --out {output.png} --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_PREPARE_STYLE\" > {log} 2>&1"


BENCHMARK_JOBS["prepare_style"] = lambda: [dict(style=style) for style in STYLES]
FINAL_OUTPUTS["prepare_style"] = lambda: expand("results/styles/{style}.png", style=STYLES)
