# The stylized NeRF (METHOD.md 5-6): NeRF renderings of the training views once per scene, one
# stylized NeRF per scene x style, its rendered path and test views, and the unstylized path.


rule render_views:
    input:
        model="results/{scene}/nerf/model.pt",
        cameras="results/{scene}/poses/cameras.json",
    output:
        # the whole folder (rgb/, depth/, points/, metadata.json) is written atomically with it
        "results/{scene}/views/cameras.json",
    log:
        "results/logs/render_views/{scene}.log",
    benchmark:
        "results/benchmarks/render_views/{scene}.tsv"
    threads: JOB_THREADS
    resources:
        gpu=1,
        gpu_mem_mb=config["gpu_mem_mb"]["render_views"],
    params:
        settings=settings("render-views"),
    conda:
        "../../envs/stylize.yaml"
    shell:
        "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf render-views --model {input.model} --cameras {input.cameras}"
        " --out results/{wildcards.scene}/views --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_RENDER_VIEWS\" > {log} 2>&1"


rule stylize:
    input:
        views="results/{scene}/views/cameras.json",
        model="results/{scene}/nerf/model.pt",
        decoder="results/stylization2d/decoder.pt",
        latents="results/stylization2d/style_latents.json",
        style="results/styles/{style}.png",
    output:
        # model.pt (style module + latents), decoder.pt (fine-tuned), losses.json, views.png,
        # metadata.json (with the fit of the style module to the decoder): one folder, written atomically
        model="results/{scene}/{style}/stylize/model.pt",
        decoder="results/{scene}/{style}/stylize/decoder.pt",
        metadata="results/{scene}/{style}/stylize/metadata.json",
    log:
        "results/logs/stylize/{scene}/{style}.log",
    benchmark:
        "results/benchmarks/stylize/{scene}/{style}.tsv"
    threads: JOB_THREADS
    resources:
        gpu=1,
        gpu_mem_mb=config["gpu_mem_mb"]["stylize"],
    params:
        settings=settings("stylize"),
    conda:
        "../../envs/stylize.yaml"
    shell:
        # the checkpoint lives beside the output folder, so a killed job resumes on rerun
        "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf stylize --views results/{wildcards.scene}/views --model {input.model}"
        " --decoder {input.decoder} --latents {input.latents} --style-image {input.style}"
        " --style {wildcards.style} --out results/{wildcards.scene}/{wildcards.style}/stylize"
        " --checkpoint-dir results/{wildcards.scene}/{wildcards.style}/stylize_ckpt"
        " --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_STYLIZE\" > {log} 2>&1"


rule render:
    input:
        stylized="results/{scene}/{style}/stylize/model.pt",
        model="results/{scene}/nerf/model.pt",
        cameras="results/{scene}/poses/cameras.json",
        camera_path=camera_path_input,
    output:
        # frames/NNN.png, depth/NNN.npy, test/, metadata.json written atomically with them
        video="results/{scene}/{style}/render/video.mp4",
        # plays in the report (which offers an MP4 only as a download; stylize/video.py)
        video_page=report("results/{scene}/{style}/render/video.html", caption="../report/video.rst", category="Videos",
                          labels={"scene": "{scene}", "style": "{style}", "method": "StylizedNeRF (ours)"}),
        cameras="results/{scene}/{style}/render/cameras.json",
    log:
        "results/logs/render/{scene}/{style}.log",
    benchmark:
        "results/benchmarks/render/{scene}/{style}.tsv"
    threads: JOB_THREADS
    resources:
        gpu=1,
        gpu_mem_mb=config["gpu_mem_mb"]["render"],
    params:
        settings=settings("render"),
        camera_path=camera_path_option,
    conda:
        "../../envs/stylize.yaml"
    shell:
        "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf render --stylized results/{wildcards.scene}/{wildcards.style}/stylize"
        " --model {input.model} --cameras {input.cameras} {params.camera_path}"
        " --out results/{wildcards.scene}/{wildcards.style}/render --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_RENDER\" > {log} 2>&1"


# The fine-tuned 2D decoder of the mutual-learning job, applied frame by frame to the unstylized
# path (as adain_frames does with the pre-trained one): the evaluation's 'decoder_mutual' row.
rule decoder_frames:
    input:
        path="results/{scene}/path/cameras.json",
        decoder="results/{scene}/{style}/stylize/decoder.pt",
        style="results/styles/{style}.png",
    output:
        # the folder (frames/ + cameras.json) is written atomically with it
        "results/{scene}/{style}/decoder_mutual/cameras.json",
    log:
        "results/logs/decoder_frames/{scene}/{style}.log",
    benchmark:
        "results/benchmarks/decoder_frames/{scene}/{style}.tsv"
    threads: JOB_THREADS
    resources:
        gpu=1,
        gpu_mem_mb=config["gpu_mem_mb"]["stylize_2d"],
    params:
        settings=settings("stylize-2d"),
    conda:
        "../../envs/stylization2d.yaml"
    shell:
        "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf stylize-2d --bundle --decoder {input.decoder} --style {input.style}"
        " --out results/{wildcards.scene}/{wildcards.style}/decoder_mutual --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_STYLIZE_2D\""
        " {input.path} > {log} 2>&1"


rule render_path:
    input:
        model="results/{scene}/nerf/model.pt",
        cameras="results/{scene}/poses/cameras.json",
        camera_path=camera_path_input,
    output:
        # frames/, depth/, metadata.json written atomically with them
        cameras="results/{scene}/path/cameras.json",
        # the NeRF's median depth, the evaluation's second warp (declared: a path rendered before
        # it existed is rendered again)
        depth_median=directory("results/{scene}/path/depth_median"),
        video="results/{scene}/path/video.mp4",
        # plays in the report (which offers an MP4 only as a download; stylize/video.py)
        video_page=report("results/{scene}/path/video.html", caption="../report/video_path.rst", category="Videos",
                          labels={"scene": "{scene}", "style": "none", "method": "NeRF (no style)"}),
    log:
        "results/logs/render_path/{scene}.log",
    benchmark:
        "results/benchmarks/render_path/{scene}.tsv"
    threads: JOB_THREADS
    resources:
        gpu=1,
        gpu_mem_mb=config["gpu_mem_mb"]["render"],
    params:
        settings=settings("render-path"),
        camera_path=camera_path_option,
    conda:
        "../../envs/stylize.yaml"
    shell:
        "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf render-path --model {input.model} --cameras {input.cameras} {params.camera_path}"
        " --out results/{wildcards.scene}/path --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_RENDER_PATH\" > {log} 2>&1"


# The official code's sequential pipeline (fine-tune the decoder with L_co, then fit the style
# module to its stylizations) as a baseline for the evaluation: the same stages with mutual off.
if config["stylize"]["sequential_baseline"]:

    rule stylize_sequential:
        input:
            views="results/{scene}/views/cameras.json",
            model="results/{scene}/nerf/model.pt",
            decoder="results/stylization2d/decoder.pt",
            latents="results/stylization2d/style_latents.json",
            style="results/styles/{style}.png",
        output:
            model="results/{scene}/{style}/stylize_sequential/model.pt",
            decoder="results/{scene}/{style}/stylize_sequential/decoder.pt",
            metadata="results/{scene}/{style}/stylize_sequential/metadata.json",
        log:
            "results/logs/stylize_sequential/{scene}/{style}.log",
        benchmark:
            "results/benchmarks/stylize_sequential/{scene}/{style}.tsv"
        threads: JOB_THREADS
        resources:
            gpu=1,
            gpu_mem_mb=config["gpu_mem_mb"]["stylize"],
        params:
            settings=settings("stylize", mutual=False),
        conda:
            "../../envs/stylize.yaml"
        shell:
            "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf stylize --views results/{wildcards.scene}/views --model {input.model}"
            " --decoder {input.decoder} --latents {input.latents} --style-image {input.style}"
            " --style {wildcards.style} --out results/{wildcards.scene}/{wildcards.style}/stylize_sequential"
            " --checkpoint-dir results/{wildcards.scene}/{wildcards.style}/stylize_sequential_ckpt"
            " --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_STYLIZE\" > {log} 2>&1"

    rule render_sequential:
        input:
            stylized="results/{scene}/{style}/stylize_sequential/model.pt",
            model="results/{scene}/nerf/model.pt",
            cameras="results/{scene}/poses/cameras.json",
            camera_path=camera_path_input,
        output:
            video="results/{scene}/{style}/render_sequential/video.mp4",
            # plays in the report (which offers an MP4 only as a download; stylize/video.py)
            video_page=report("results/{scene}/{style}/render_sequential/video.html", caption="../report/video.rst",
                              category="Videos",
                              labels={"scene": "{scene}", "style": "{style}", "method": "StylizedNeRF sequential"}),
            cameras="results/{scene}/{style}/render_sequential/cameras.json",
        log:
            "results/logs/render_sequential/{scene}/{style}.log",
        benchmark:
            "results/benchmarks/render_sequential/{scene}/{style}.tsv"
        threads: JOB_THREADS
        resources:
            gpu=1,
            gpu_mem_mb=config["gpu_mem_mb"]["render"],
        params:
            settings=settings("render"),
            camera_path=camera_path_option,
        conda:
            "../../envs/stylize.yaml"
        shell:
            "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf render --stylized results/{wildcards.scene}/{wildcards.style}/stylize_sequential"
            " --model {input.model} --cameras {input.cameras} {params.camera_path}"
            " --out results/{wildcards.scene}/{wildcards.style}/render_sequential"
            " --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_RENDER\" > {log} 2>&1"

    # The sequential job's fine-tuned decoder per frame: the evaluation's 'decoder_sequential' row.
    rule decoder_frames_sequential:
        input:
            path="results/{scene}/path/cameras.json",
            decoder="results/{scene}/{style}/stylize_sequential/decoder.pt",
            style="results/styles/{style}.png",
        output:
            "results/{scene}/{style}/decoder_sequential/cameras.json",
        log:
            "results/logs/decoder_frames_sequential/{scene}/{style}.log",
        benchmark:
            "results/benchmarks/decoder_frames_sequential/{scene}/{style}.tsv"
        threads: JOB_THREADS
        resources:
            gpu=1,
            gpu_mem_mb=config["gpu_mem_mb"]["stylize_2d"],
        params:
            settings=settings("stylize-2d"),
        conda:
            "../../envs/stylization2d.yaml"
        shell:
            "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf stylize-2d --bundle --decoder {input.decoder} --style {input.style}"
            " --out results/{wildcards.scene}/{wildcards.style}/decoder_sequential --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_STYLIZE_2D\""
            " {input.path} > {log} 2>&1"

    FINAL_OUTPUTS["render_sequential"] = lambda: expand(
        "results/{scene}/{style}/render_sequential/video.mp4", scene=SCENES, style=STYLES)


BENCHMARK_JOBS["render_views"] = lambda: [dict(scene=scene) for scene in SCENES]
BENCHMARK_JOBS["render_path"] = lambda: [dict(scene=scene) for scene in SCENES]
BENCHMARK_JOBS["stylize"] = lambda: scene_style_jobs()
BENCHMARK_JOBS["render"] = lambda: scene_style_jobs()
BENCHMARK_JOBS["decoder_frames"] = lambda: scene_style_jobs("decoder_mutual")
# the sequential and joint rules exist only when enabled (benchmark_jobs skips undefined rules)
BENCHMARK_JOBS["stylize_sequential"] = lambda: scene_style_jobs()
BENCHMARK_JOBS["render_sequential"] = lambda: scene_style_jobs()
BENCHMARK_JOBS["decoder_frames_sequential"] = lambda: scene_style_jobs("decoder_sequential")
BENCHMARK_JOBS["stylize_joint"] = lambda: [dict(scene=scene) for scene in SCENES]
BENCHMARK_JOBS["render_interpolation"] = lambda: [dict(scene=scene) for scene in SCENES]
FINAL_OUTPUTS["render_views"] = lambda: expand("results/{scene}/views/cameras.json", scene=SCENES)
FINAL_OUTPUTS["stylize"] = lambda: expand("results/{scene}/{style}/stylize/model.pt", scene=SCENES, style=STYLES)
FINAL_OUTPUTS["render"] = lambda: expand("results/{scene}/{style}/render/video.mp4", scene=SCENES, style=STYLES)
FINAL_OUTPUTS["render_path"] = lambda: expand("results/{scene}/path/cameras.json", scene=SCENES)


# Optional joint mode (issue 6): one style module per scene for every style, conditioned on each
# style's latent, trained on the per-style jobs' fine-tuned decoders; then the style transition.
if config["joint"]["enabled"]:
    if "joint" in STYLES:
        sys.exit("config: styles: 'joint' names the joint mode's folder; rename that style")

    rule stylize_joint:
        input:
            views="results/{scene}/views/cameras.json",
            model="results/{scene}/nerf/model.pt",
            latents="results/stylization2d/style_latents.json",
            styles=expand("results/styles/{style}.png", style=STYLES),
            # each per-style job writes its fine-tuned decoder.pt beside model.pt
            stylized=expand("results/{{scene}}/{style}/stylize/model.pt", style=STYLES),
        output:
            "results/{scene}/joint/stylize/model.pt",
        log:
            "results/logs/stylize_joint/{scene}.log",
        benchmark:
            "results/benchmarks/stylize_joint/{scene}.tsv"
        threads: JOB_THREADS
        resources:
            gpu=1,
            gpu_mem_mb=config["gpu_mem_mb"]["stylize_joint"],
        params:
            settings=settings("stylize-joint"),
            styles=" ".join(STYLES),
            decoders=lambda wildcards: " ".join(
                f"results/{wildcards.scene}/{style}/stylize/decoder.pt" for style in STYLES
            ),
        conda:
            "../../envs/stylize.yaml"
        shell:
            "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf stylize-joint --views results/{wildcards.scene}/views --model {input.model}"
            " --latents {input.latents} --styles {params.styles} --style-images {input.styles}"
            " --decoders {params.decoders} --out results/{wildcards.scene}/joint/stylize"
            " --checkpoint-dir results/{wildcards.scene}/joint/stylize_ckpt"
            " --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_STYLIZE_JOINT\" > {log} 2>&1"

    rule render_interpolation:
        input:
            joint="results/{scene}/joint/stylize/model.pt",
            model="results/{scene}/nerf/model.pt",
            cameras="results/{scene}/poses/cameras.json",
            camera_path=camera_path_input,
        output:
            # frames/, depth/, latents.npy (the code of each frame), metadata.json written with it
            video="results/{scene}/joint/interpolation/video.mp4",
            # plays in the report (which offers an MP4 only as a download; stylize/video.py)
            video_page=report("results/{scene}/joint/interpolation/video.html", caption="../report/interpolation.rst",
                              category="Videos", labels={"scene": "{scene}", "style": "all (transition)", "method": "joint mode"}),
        log:
            "results/logs/render_interpolation/{scene}.log",
        benchmark:
            "results/benchmarks/render_interpolation/{scene}.tsv"
        threads: JOB_THREADS
        resources:
            gpu=1,
            gpu_mem_mb=config["gpu_mem_mb"]["render"],
        params:
            settings=settings("render-interpolation"),
            camera_path=camera_path_option,
        conda:
            "../../envs/stylize.yaml"
        shell:
            "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf render-interpolation --joint results/{wildcards.scene}/joint/stylize"
            " --model {input.model} --cameras {input.cameras} {params.camera_path}"
            " --out results/{wildcards.scene}/joint/interpolation --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_RENDER_INTERPOLATION\" > {log} 2>&1"

    FINAL_OUTPUTS["render_interpolation"] = lambda: expand(
        "results/{scene}/joint/interpolation/video.mp4", scene=SCENES)
