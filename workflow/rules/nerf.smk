# NeRF pre-training per scene: results/{scene}/nerf/ (model.pt, metrics.json, test/, curve.png).
# Checkpoints go to results/{scene}/nerf_ckpt/ (not an output, so a failed job keeps them and
# the rerun resumes); the stage removes that folder when it finishes.


def nerf_cameras(wildcards):
    return f"results/{wildcards.scene}/poses/cameras.json"


rule pretrain_nerf:
    input:
        cameras=nerf_cameras,
    output:
        model="results/{scene}/nerf/model.pt",
        metrics="results/{scene}/nerf/metrics.json",
    log:
        "results/logs/pretrain_nerf/{scene}.log",
    params:
        settings=settings("nerf"),
        out="results/{scene}/nerf",
    conda:
        "../../envs/torch.yaml"
    shell:
        "python -m stylizednerf pretrain-nerf --cameras {input.cameras} --out {params.out}"
        " --settings {params.settings:q} > {log} 2>&1"


FINAL_OUTPUTS["pretrain_nerf"] = lambda: expand("results/{scene}/nerf/metrics.json", scene=SCENES)
