# NeRF pre-training per scene: results/{scene}/nerf/ (model.pt, metrics.json, test/, curve.png).
# Checkpoints go to results/{scene}/nerf_ckpt/ (not an output, so a failed job keeps them and
# the rerun resumes); the stage removes that folder when it finishes.


rule pretrain_nerf:
    input:
        cameras="results/{scene}/poses/cameras.json",
        images="results/{scene}/images",
    output:
        model="results/{scene}/nerf/model.pt",
        metrics="results/{scene}/nerf/metrics.json",
        log_file="results/{scene}/nerf/log.json",
        curve=report("results/{scene}/nerf/curve.png", caption="../report/nerf_curve.rst", category="NeRF",
                     labels={"scene": "{scene}", "figure": "learning curve"}),
        test=report(directory("results/{scene}/nerf/test"), patterns=["{name}.png"],
                    caption="../report/nerf_test.rst", category="NeRF",
                    labels={"scene": "{scene}", "figure": "test view {name}"}),
    log:
        job_log("pretrain_nerf", "{scene}"),
    benchmark:
        job_benchmark("pretrain_nerf", "{scene}")
    threads: JOB_THREADS
    resources:
        gpu=1,
        gpu_mem_mb=config["gpu_mem_mb"]["pretrain_nerf"],
    params:
        settings=settings("pretrain-nerf"),
        out=folder_of("model"),
    conda:
        "../../envs/nerf.yaml"
    shell:
        "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf pretrain-nerf --cameras {input.cameras} --out {params.out}"
        " --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_PRETRAIN_NERF\" > {log} 2>&1"


BENCHMARK_JOBS["pretrain_nerf"] = lambda: [dict(scene=scene) for scene in SCENES]
FINAL_OUTPUTS["pretrain_nerf"] = lambda: expand("results/{scene}/nerf/metrics.json", scene=SCENES)
