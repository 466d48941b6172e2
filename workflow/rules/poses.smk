# Camera poses per scene: SfM with pycolmap (poses: colmap) or the poses the dataset ships
# (poses: provided). Both write the same files, so later stages don't care which ran.


rule colmap:
    input:
        # the demo's cameras (made by the workflow), or a real scene's photos and shipped poses
        scene_inputs,
    output:
        cameras="results/{scene}/poses/cameras.json",
        report="results/{scene}/poses/report.json",
        figure=report("results/{scene}/poses/cameras.png", caption="../report/cameras.rst", category="Poses",
                      labels={"scene": "{scene}", "figure": "cameras"}),
        llff="results/{scene}/poses/poses_bounds.npy",
        nerfstudio="results/{scene}/poses/transforms.json",
        images=directory("results/{scene}/images"),
    log:
        job_log("colmap", "{scene}"),
    benchmark:
        job_benchmark("colmap", "{scene}")
    # one thread for reproducible poses (colmap.reproducible); else 8, capped at --cores by Snakemake
    threads: 1 if config["colmap"]["reproducible"] else 8
    params:
        out=folder_of("cameras", levels=2),
        source=scene_source,
        poses=lambda wc: config["scenes"][wc.scene].get("poses", "colmap"),
        kind=lambda wc: config["scenes"][wc.scene].get("kind", "forward"),
        downscale=lambda wc: config["scenes"][wc.scene].get("downscale", 1),
        settings=settings("poses"),
    conda:
        "../../envs/poses.yaml"
    shell:
        "python -m stylizednerf poses --scene {wildcards.scene} --source {params.source:q}"
        " --poses {params.poses} --kind {params.kind} --downscale {params.downscale}"
        " --out {params.out:q} --threads {threads} --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_POSES\" > {log} 2>&1"


BENCHMARK_JOBS["colmap"] = lambda: [dict(scene=scene) for scene in SCENES]
FINAL_OUTPUTS["colmap"] = lambda: expand("results/{scene}/poses/report.json", scene=SCENES)
