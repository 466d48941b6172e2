# The generated demo scene (no data needed): images, exact depth and true cameras.


rule demo_scene:
    output:
        # one folder, written atomically
        cameras="results/inputs/demo/cameras.json",
        images=directory("results/inputs/demo/images"),
        depth=directory("results/inputs/demo/depth"),
        metadata="results/inputs/demo/metadata.json",
    log:
        job_log("demo_scene"),
    benchmark:
        job_benchmark("demo_scene")
    params:
        out=folder_of("cameras"),
        settings=settings("demo-scene"),
    conda:
        "../../envs/demo.yaml"
    shell:
        "python -m stylizednerf demo-scene --out {params.out:q} --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_DEMO_SCENE\" > {log} 2>&1"


# Only when some scene uses the demo (config/paper.yaml has none).
BENCHMARK_JOBS["demo_scene"] = lambda: (
    [{}] if any(scene["source"] == "demo" for scene in config["scenes"].values()) else []
)
FINAL_OUTPUTS["demo_scene"] = lambda: (
    ["results/inputs/demo/cameras.json"]
    if any(scene["source"] == "demo" for scene in config["scenes"].values())
    else []
)
