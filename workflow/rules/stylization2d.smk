# The 2D side (METHOD.md 3-4): the AdaIN decoder pre-trained on the photos of every configured
# scene (+ an optional extra content folder) with the configured styles, the style VAE, and
# per-frame AdaIN of the unstylized NeRF path (the 2D baseline of the evaluation).
# Checkpoints live in results/stylization2d_ckpt/ (declared nowhere), so a killed job resumes.


rule pretrain_decoder:
    input:
        cameras=expand("results/{scene}/poses/cameras.json", scene=SCENES),
        images=expand("results/{scene}/images", scene=SCENES),
        styles=expand("results/styles/{style}.png", style=STYLES),
        # decoder.extra_content's photos (the stage finds them through its settings)
        extra_content=extra_content_inputs,
    output:
        decoder="results/stylization2d/decoder.pt",
        samples=report("results/stylization2d/samples.png", caption="../report/decoder_samples.rst",
                       category="2D stylization", labels={"figure": "decoder samples"}),
        metrics="results/stylization2d/decoder_metrics.json",
    log:
        job_log("pretrain_decoder"),
    benchmark:
        job_benchmark("pretrain_decoder")
    threads: JOB_THREADS
    resources:
        gpu=1,
        gpu_mem_mb=config["gpu_mem_mb"]["pretrain_decoder"],
    params:
        checkpoint=folder_of("decoder", suffix="_ckpt"),
        out=folder_of("decoder"),
        settings=settings("pretrain-decoder"),
    conda:
        "../../envs/stylization2d.yaml"
    shell:
        "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf pretrain-decoder --contents {input.cameras} --styles {input.styles}"
        " --out {params.out:q} --checkpoint-dir {params.checkpoint:q}"
        " --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_PRETRAIN_DECODER\" > {log} 2>&1"


rule train_vae:
    input:
        styles=expand("results/styles/{style}.png", style=STYLES),
    output:
        vae="results/stylization2d/vae.pt",
        latents="results/stylization2d/style_latents.json",
        figure=report("results/stylization2d/latents.png", caption="../report/vae_latents.rst",
                      category="2D stylization", labels={"figure": "style latents"}),
        metrics="results/stylization2d/vae_metrics.json",
    log:
        job_log("train_vae"),
    benchmark:
        job_benchmark("train_vae")
    threads: JOB_THREADS
    resources:
        gpu=1,
        gpu_mem_mb=config["gpu_mem_mb"]["train_vae"],
    params:
        checkpoint=folder_of("vae", suffix="_ckpt"),
        out=folder_of("vae"),
        settings=settings("train-vae"),
    conda:
        "../../envs/stylization2d.yaml"
    shell:
        "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf train-vae --styles {input.styles} --out {params.out:q}"
        " --checkpoint-dir {params.checkpoint:q} --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_TRAIN_VAE\" > {log} 2>&1"


# Per-frame AdaIN on the unstylized NeRF path (rule render_path): the evaluation's 'adain' row.
rule adain_frames:
    input:
        path="results/{scene}/path/cameras.json",
        path_frames="results/{scene}/path/frames",
        decoder="results/stylization2d/decoder.pt",
        style="results/styles/{style}.png",
    output:
        # one folder, written atomically
        cameras="results/{scene}/{style}/adain/cameras.json",
        frames=directory("results/{scene}/{style}/adain/frames"),
    log:
        job_log("adain_frames", "{scene}", "{style}"),
    benchmark:
        job_benchmark("adain_frames", "{scene}", "{style}")
    threads: JOB_THREADS
    resources:
        gpu=1,
        gpu_mem_mb=config["gpu_mem_mb"]["stylize_2d"],
    params:
        out=folder_of("cameras"),
        settings=settings("stylize-2d"),
    conda:
        "../../envs/stylization2d.yaml"
    shell:
        "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf stylize-2d --bundle --decoder {input.decoder} --style {input.style}"
        " --out {params.out:q} --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_STYLIZE_2D\""
        " {input.path} > {log} 2>&1"


BENCHMARK_JOBS["pretrain_decoder"] = lambda: [{}]
BENCHMARK_JOBS["train_vae"] = lambda: [{}]
# per-frame AdaIN runs for the evaluation's 'adain' row only
BENCHMARK_JOBS["adain_frames"] = lambda: [dict(scene=scene, style=style) for scene in SCENES for style in STYLES
                                          if "adain" in eval_methods()]
FINAL_OUTPUTS["stylization2d"] = lambda: [
    "results/stylization2d/decoder.pt",
    "results/stylization2d/samples.png",
    "results/stylization2d/vae.pt",
    "results/stylization2d/style_latents.json",
    "results/stylization2d/latents.png",
]
