# The ARF baseline (baselines: [arf]; stylizednerf/arf): the same frozen NeRF's appearance
# stylized with ARF's NNFM loss, then rendered along the same camera path by the render stage
# (the model file has the stylize stage's layout): the evaluation's 'arf' row.
if "arf" in config["baselines"]:

    rule arf:
        input:
            views="results/{scene}/views/cameras.json",
            views_rgb="results/{scene}/views/rgb",
            views_depth="results/{scene}/views/depth",
            model="results/{scene}/nerf/model.pt",
            style="results/styles/{style}.png",
        output:
            # one folder, written atomically
            model="results/{scene}/{style}/arf/stylize/model.pt",
            metadata="results/{scene}/{style}/arf/stylize/metadata.json",
            losses="results/{scene}/{style}/arf/stylize/losses.json",
            previews=report("results/{scene}/{style}/arf/stylize/views.png", caption="../report/arf_views.rst",
                            category="Stylized NeRF", labels={"scene": "{scene}", "style": "{style}",
                                                              "method": "ARF (baseline)"}),
        log:
            job_log("arf", "{scene}", "{style}"),
        benchmark:
            job_benchmark("arf", "{scene}", "{style}")
        threads: JOB_THREADS
        resources:
            gpu=1,
            gpu_mem_mb=config["gpu_mem_mb"]["arf"],
        params:
            out=folder_of("model"),
            views=folder_of("views", kind="input"),
            settings=settings("arf"),
        conda:
            "../../envs/stylize.yaml"
        shell:
            "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf arf --views {params.views:q} --model {input.model}"
            " --style-image {input.style} --style {wildcards.style}"
            " --out {params.out:q}"
            " --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_ARF\" > {log} 2>&1"

    rule render_arf:
        input:
            stylized="results/{scene}/{style}/arf/stylize/model.pt",
            model="results/{scene}/nerf/model.pt",
            cameras="results/{scene}/poses/cameras.json",
            camera_path=camera_path_input,
        output:
            # frames/, depth/, test/, metadata.json written atomically with them
            video="results/{scene}/{style}/arf/render/video.mp4",
            # plays in the report (which offers an MP4 only as a download; stylize/video.py)
            video_page=report("results/{scene}/{style}/arf/render/video.html", caption="../report/video.rst",
                              category="Videos", labels={"scene": "{scene}", "style": "{style}", "method": "ARF (baseline)"}),
            cameras="results/{scene}/{style}/arf/render/cameras.json",
            # the rest of the folder (written atomically): the path's frames and depth, the held-out
            # views (test/, empty when none is held out), depth previews, nerfstudio's camera path
            frames=directory("results/{scene}/{style}/arf/render/frames"),
            depth=directory("results/{scene}/{style}/arf/render/depth"),
            depth_preview="results/{scene}/{style}/arf/render/depth.png",
            test=directory("results/{scene}/{style}/arf/render/test"),
            test_depth=directory("results/{scene}/{style}/arf/render/test_depth"),
            camera_path_file="results/{scene}/{style}/arf/render/camera_path.json",
            metadata="results/{scene}/{style}/arf/render/metadata.json",
        log:
            job_log("render_arf", "{scene}", "{style}"),
        benchmark:
            job_benchmark("render_arf", "{scene}", "{style}")
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

    FINAL_OUTPUTS["render_arf"] = lambda: expand(
        "results/{scene}/{style}/arf/render/video.mp4", scene=SCENES, style=STYLES)
    BENCHMARK_JOBS["arf"] = lambda: [dict(scene=scene, style=style) for scene in SCENES for style in STYLES]
    BENCHMARK_JOBS["render_arf"] = lambda: [dict(scene=scene, style=style) for scene in SCENES for style in STYLES]
