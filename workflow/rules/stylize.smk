# The stylized NeRF (METHOD.md 5-6): NeRF renderings of the training views once per scene, one
# stylized NeRF per scene x style, its rendered path and test views, and the unstylized path.


rule render_views:
    input:
        model="results/{scene}/nerf/model.pt",
        cameras="results/{scene}/poses/cameras.json",
    output:
        # one folder, written atomically
        cameras="results/{scene}/views/cameras.json",
        rgb=directory("results/{scene}/views/rgb"),
        depth=directory("results/{scene}/views/depth"),
        points=directory("results/{scene}/views/points"),
        metadata="results/{scene}/views/metadata.json",
    log:
        job_log("render_views", "{scene}"),
    benchmark:
        job_benchmark("render_views", "{scene}")
    threads: JOB_THREADS
    resources:
        gpu=1,
        gpu_mem_mb=config["gpu_mem_mb"]["render_views"],
    params:
        out=folder_of("cameras"),
        settings=settings("render-views"),
    conda:
        "../../envs/stylize.yaml"
    shell:
        "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf render-views --model {input.model} --cameras {input.cameras}"
        " --out {params.out:q} --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_RENDER_VIEWS\" > {log} 2>&1"


rule stylize:
    input:
        views="results/{scene}/views/cameras.json",
        views_rgb="results/{scene}/views/rgb",
        views_depth="results/{scene}/views/depth",
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
        losses="results/{scene}/{style}/stylize/losses.json",
        previews=report("results/{scene}/{style}/stylize/views.png", caption="../report/stylize_views.rst",
                        category="Stylized NeRF", labels={"scene": "{scene}", "style": "{style}",
                                                          "method": "StylizedNeRF (ours)"}),
    log:
        job_log("stylize", "{scene}", "{style}"),
    benchmark:
        job_benchmark("stylize", "{scene}", "{style}")
    threads: JOB_THREADS
    resources:
        gpu=1,
        gpu_mem_mb=config["gpu_mem_mb"]["stylize"],
    params:
        checkpoint=folder_of("model", suffix="_ckpt"),
        out=folder_of("model"),
        views=folder_of("views", kind="input"),
        settings=settings("stylize"),
    conda:
        "../../envs/stylize.yaml"
    shell:
        # the checkpoint lives beside the output folder, so a killed job resumes on rerun
        "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf stylize --views {params.views:q} --model {input.model}"
        " --decoder {input.decoder} --latents {input.latents} --style-image {input.style}"
        " --style {wildcards.style} --out {params.out:q}"
        " --checkpoint-dir {params.checkpoint:q}"
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
        # the rest of the folder (written atomically): the path's frames and depth, the held-out
        # views (test/, empty when none is held out), depth previews, nerfstudio's camera path
        frames=directory("results/{scene}/{style}/render/frames"),
        depth=directory("results/{scene}/{style}/render/depth"),
        depth_preview="results/{scene}/{style}/render/depth.png",
        test=directory("results/{scene}/{style}/render/test"),
        test_depth=directory("results/{scene}/{style}/render/test_depth"),
        camera_path_file="results/{scene}/{style}/render/camera_path.json",
        metadata="results/{scene}/{style}/render/metadata.json",
    log:
        job_log("render", "{scene}", "{style}"),
    benchmark:
        job_benchmark("render", "{scene}", "{style}")
    threads: JOB_THREADS
    resources:
        gpu=1,
        gpu_mem_mb=config["gpu_mem_mb"]["render"],
    params:
        out=folder_of("cameras"),
        stylized=folder_of("stylized", kind="input"),
        settings=settings("render"),
        camera_path=camera_path_option,
    conda:
        "../../envs/stylize.yaml"
    shell:
        "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf render --stylized {params.stylized:q}"
        " --model {input.model} --cameras {input.cameras} {params.camera_path}"
        " --out {params.out:q} --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_RENDER\" > {log} 2>&1"


# The fine-tuned 2D decoder of the mutual-learning job, applied frame by frame to the unstylized
# path (as adain_frames does with the pre-trained one): the evaluation's 'decoder_mutual' row.
rule decoder_frames:
    input:
        path="results/{scene}/path/cameras.json",
        decoder="results/{scene}/{style}/stylize/decoder.pt",
        path_frames="results/{scene}/path/frames",
        style="results/styles/{style}.png",
    output:
        # one folder, written atomically
        cameras="results/{scene}/{style}/decoder_mutual/cameras.json",
        frames=directory("results/{scene}/{style}/decoder_mutual/frames"),
    log:
        job_log("decoder_frames", "{scene}", "{style}"),
    benchmark:
        job_benchmark("decoder_frames", "{scene}", "{style}")
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


rule render_path:
    input:
        model="results/{scene}/nerf/model.pt",
        cameras="results/{scene}/poses/cameras.json",
        camera_path=camera_path_input,
    output:
        # one folder, written atomically
        cameras="results/{scene}/path/cameras.json",
        frames=directory("results/{scene}/path/frames"),
        depth=directory("results/{scene}/path/depth"),
        depth_preview="results/{scene}/path/depth.png",
        # every frame's depth, colour-mapped (the geometry every stylized path shares)
        depth_video="results/{scene}/path/depth.mp4",
        depth_video_page=report("results/{scene}/path/depth.html", caption="../report/video_depth.rst", category="Videos",
                                labels={"scene": "{scene}", "style": "none", "method": "NeRF depth"}),
        camera_path_file="results/{scene}/path/camera_path.json",
        metadata="results/{scene}/path/metadata.json",
        # the NeRF's median depth, the evaluation's second warp (declared: a path rendered before
        # it existed is rendered again)
        depth_median=directory("results/{scene}/path/depth_median"),
        video="results/{scene}/path/video.mp4",
        # plays in the report (which offers an MP4 only as a download; stylize/video.py)
        video_page=report("results/{scene}/path/video.html", caption="../report/video_path.rst", category="Videos",
                          labels={"scene": "{scene}", "style": "none", "method": "NeRF (no style)"}),
    log:
        job_log("render_path", "{scene}"),
    benchmark:
        job_benchmark("render_path", "{scene}")
    threads: JOB_THREADS
    resources:
        gpu=1,
        gpu_mem_mb=config["gpu_mem_mb"]["render"],
    params:
        out=folder_of("cameras"),
        settings=settings("render-path"),
        camera_path=camera_path_option,
    conda:
        "../../envs/stylize.yaml"
    shell:
        "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf render-path --model {input.model} --cameras {input.cameras} {params.camera_path}"
        " --out {params.out:q} --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_RENDER_PATH\" > {log} 2>&1"


# The official code's sequential pipeline (fine-tune the decoder with L_co, then fit the style
# module to its stylizations) as a baseline for the evaluation: the same stages with mutual off.
if config["stylize"]["sequential_baseline"]:

    rule stylize_sequential:
        input:
            views="results/{scene}/views/cameras.json",
            views_rgb="results/{scene}/views/rgb",
            views_depth="results/{scene}/views/depth",
            model="results/{scene}/nerf/model.pt",
            decoder="results/stylization2d/decoder.pt",
            latents="results/stylization2d/style_latents.json",
            style="results/styles/{style}.png",
        output:
            model="results/{scene}/{style}/stylize_sequential/model.pt",
            decoder="results/{scene}/{style}/stylize_sequential/decoder.pt",
            metadata="results/{scene}/{style}/stylize_sequential/metadata.json",
            losses="results/{scene}/{style}/stylize_sequential/losses.json",
            previews=report("results/{scene}/{style}/stylize_sequential/views.png",
                            caption="../report/stylize_views.rst", category="Stylized NeRF",
                            labels={"scene": "{scene}", "style": "{style}", "method": "StylizedNeRF sequential"}),
        log:
            job_log("stylize_sequential", "{scene}", "{style}"),
        benchmark:
            job_benchmark("stylize_sequential", "{scene}", "{style}")
        threads: JOB_THREADS
        resources:
            gpu=1,
            gpu_mem_mb=config["gpu_mem_mb"]["stylize"],
        params:
            checkpoint=folder_of("model", suffix="_ckpt"),
            out=folder_of("model"),
            views=folder_of("views", kind="input"),
            settings=settings("stylize", mutual=False),
        conda:
            "../../envs/stylize.yaml"
        shell:
            "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf stylize --views {params.views:q} --model {input.model}"
            " --decoder {input.decoder} --latents {input.latents} --style-image {input.style}"
            " --style {wildcards.style} --out {params.out:q}"
            " --checkpoint-dir {params.checkpoint:q}"
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
            # the rest of the folder (written atomically): the path's frames and depth, the held-out
            # views (test/, empty when none is held out), depth previews, nerfstudio's camera path
            frames=directory("results/{scene}/{style}/render_sequential/frames"),
            depth=directory("results/{scene}/{style}/render_sequential/depth"),
            depth_preview="results/{scene}/{style}/render_sequential/depth.png",
            test=directory("results/{scene}/{style}/render_sequential/test"),
            test_depth=directory("results/{scene}/{style}/render_sequential/test_depth"),
            camera_path_file="results/{scene}/{style}/render_sequential/camera_path.json",
            metadata="results/{scene}/{style}/render_sequential/metadata.json",
        log:
            job_log("render_sequential", "{scene}", "{style}"),
        benchmark:
            job_benchmark("render_sequential", "{scene}", "{style}")
        threads: JOB_THREADS
        resources:
            gpu=1,
            gpu_mem_mb=config["gpu_mem_mb"]["render"],
        params:
            out=folder_of("cameras"),
            stylized=folder_of("stylized", kind="input"),
            settings=settings("render"),
            camera_path=camera_path_option,
        conda:
            "../../envs/stylize.yaml"
        shell:
            "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf render --stylized {params.stylized:q}"
            " --model {input.model} --cameras {input.cameras} {params.camera_path}"
            " --out {params.out:q}"
            " --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_RENDER\" > {log} 2>&1"

    # The sequential job's fine-tuned decoder per frame: the evaluation's 'decoder_sequential' row.
    rule decoder_frames_sequential:
        input:
            path="results/{scene}/path/cameras.json",
            decoder="results/{scene}/{style}/stylize_sequential/decoder.pt",
            path_frames="results/{scene}/path/frames",
            style="results/styles/{style}.png",
        output:
            cameras="results/{scene}/{style}/decoder_sequential/cameras.json",
            frames=directory("results/{scene}/{style}/decoder_sequential/frames"),
        log:
            job_log("decoder_frames_sequential", "{scene}", "{style}"),
        benchmark:
            job_benchmark("decoder_frames_sequential", "{scene}", "{style}")
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
            views_rgb="results/{scene}/views/rgb",
            views_depth="results/{scene}/views/depth",
            model="results/{scene}/nerf/model.pt",
            latents="results/stylization2d/style_latents.json",
            styles=expand("results/styles/{style}.png", style=STYLES),
            # the per-style jobs' fine-tuned decoders
            decoders=expand("results/{{scene}}/{style}/stylize/decoder.pt", style=STYLES),
        output:
            # one folder, written atomically
            model="results/{scene}/joint/stylize/model.pt",
            losses="results/{scene}/joint/stylize/losses.json",
            previews=report("results/{scene}/joint/stylize/views.png", caption="../report/joint_views.rst",
                            category="Stylized NeRF", labels={"scene": "{scene}", "style": "all", "method": "joint mode"}),
            metadata="results/{scene}/joint/stylize/metadata.json",
        log:
            job_log("stylize_joint", "{scene}"),
        benchmark:
            job_benchmark("stylize_joint", "{scene}")
        threads: JOB_THREADS
        resources:
            gpu=1,
            gpu_mem_mb=config["gpu_mem_mb"]["stylize_joint"],
        params:
            checkpoint=folder_of("model", suffix="_ckpt"),
            out=folder_of("model"),
            views=folder_of("views", kind="input"),
            settings=settings("stylize-joint"),
            styles=" ".join(STYLES),
        conda:
            "../../envs/stylize.yaml"
        shell:
            "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf stylize-joint --views {params.views:q} --model {input.model}"
            " --latents {input.latents} --styles {params.styles} --style-images {input.styles}"
            " --decoders {input.decoders} --out {params.out:q}"
            " --checkpoint-dir {params.checkpoint:q}"
            " --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_STYLIZE_JOINT\" > {log} 2>&1"

    rule render_interpolation:
        input:
            joint="results/{scene}/joint/stylize/model.pt",
            model="results/{scene}/nerf/model.pt",
            cameras="results/{scene}/poses/cameras.json",
            camera_path=camera_path_input,
        output:
            # one folder, written atomically; latents.npy: the code of each frame
            video="results/{scene}/joint/interpolation/video.mp4",
            frames=directory("results/{scene}/joint/interpolation/frames"),
            depth=directory("results/{scene}/joint/interpolation/depth"),
            depth_preview="results/{scene}/joint/interpolation/depth.png",
            latents="results/{scene}/joint/interpolation/latents.npy",
            metadata="results/{scene}/joint/interpolation/metadata.json",
            cameras="results/{scene}/joint/interpolation/cameras.json",
            camera_path_file="results/{scene}/joint/interpolation/camera_path.json",
            # plays in the report (which offers an MP4 only as a download; stylize/video.py)
            video_page=report("results/{scene}/joint/interpolation/video.html", caption="../report/interpolation.rst",
                              category="Videos", labels={"scene": "{scene}", "style": "all (transition)", "method": "joint mode"}),
        log:
            job_log("render_interpolation", "{scene}"),
        benchmark:
            job_benchmark("render_interpolation", "{scene}")
        threads: JOB_THREADS
        resources:
            gpu=1,
            gpu_mem_mb=config["gpu_mem_mb"]["render"],
        params:
            out=folder_of("cameras"),
            joint=folder_of("joint", kind="input"),
            settings=settings("render-interpolation"),
            camera_path=camera_path_option,
        conda:
            "../../envs/stylize.yaml"
        shell:
            "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf render-interpolation --joint {params.joint:q}"
            " --model {input.model} --cameras {input.cameras} {params.camera_path}"
            " --out {params.out:q} --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_RENDER_INTERPOLATION\" > {log} 2>&1"

    FINAL_OUTPUTS["render_interpolation"] = lambda: expand(
        "results/{scene}/joint/interpolation/video.mp4", scene=SCENES)
