# Every style as an RGB PNG: demo styles generated, files converted and downscaled.


rule prepare_style:
    input:
        lambda wc: [] if config["styles"][wc.style] == "demo" else [config["styles"][wc.style]],
    output:
        png="results/styles/{style}.png",
        meta="results/styles/{style}.json",
    log:
        "results/logs/prepare_style/{style}.log",
    params:
        source=lambda wc: config["styles"][wc.style],
        settings=settings("style_images", style_size=config.get("demo", {}).get("style_size", 256)),
    conda:
        "../../envs/torch.yaml"
    shell:
        "python -m stylizednerf prepare-style --name {wildcards.style} --source {params.source:q}"
        " --out {output.png} --settings {params.settings:q} > {log} 2>&1"


FINAL_OUTPUTS["prepare_style"] = lambda: expand("results/styles/{style}.png", style=STYLES)
