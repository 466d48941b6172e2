# Multi-view consistency, style and content of each method's rendered path (METHOD.md 7).
# One job per scene x style x method; every method is warped with the unstylized NeRF path's
# depth and cameras (results/{scene}/path), so all rows share one geometry: once with its
# expected depth (depth/) and once with its median depth (depth_median/, the median_* keys).

# Each method's rendered path: a folder with frames/ and the file that marks it complete (the
# rule producing it writes the folder atomically). Adjust here when a producer's layout changes.
EVAL_SOURCES = {
    "gt": "results/{scene}/path",  # rule render_path: the unstylized NeRF
    "adain": "results/{scene}/{style}/adain",  # per-frame AdaIN of the gt frames (2D baseline)
    "stylizednerf": "results/{scene}/{style}/render",  # rule render: ours (mutual learning)
    "sequential": "results/{scene}/{style}/render_sequential",  # the official sequential variant
    # the fine-tuned 2D decoders per frame on the gt frames, after mutual / sequential learning
    "decoder_mutual": "results/{scene}/{style}/decoder_mutual",
    "decoder_sequential": "results/{scene}/{style}/decoder_sequential",
    "arf": "results/{scene}/{style}/arf/render",  # rule render_arf: the ARF baseline (baselines: [arf])
}
# The rule that must exist for a method to be evaluated by `rule all`; others are skipped with a note.
EVAL_PRODUCERS = {"gt": "render_path", "adain": "adain_frames", "stylizednerf": "render",
                  "sequential": "render_sequential", "decoder_mutual": "decoder_frames",
                  "decoder_sequential": "decoder_frames_sequential", "arf": "render_arf"}


wildcard_constraints:
    method="|".join(EVAL_SOURCES),


rule evaluate:
    input:
        marker=lambda wc: os.path.join(eval_source(wc), "cameras.json"),
        frames=lambda wc: os.path.join(eval_source(wc), "frames"),
        gt="results/{scene}/path/cameras.json",
        # every method is warped with the unstylized path's depth and compared with its frames
        depth="results/{scene}/path/depth",
        reference_frames="results/{scene}/path/frames",
        # the second warp: the NeRF's median depth, which no stylization fits by construction
        depth_median="results/{scene}/path/depth_median",
        style="results/styles/{style}.png",
    output:
        json="results/{scene}/{style}/eval/{method}.json",
        pairs="results/{scene}/{style}/eval/{method}_pairs.csv",
        maps="results/{scene}/{style}/eval/{method}_maps.npz",
    log:
        job_log("evaluate", "{scene}", "{style}", "{method}"),
    benchmark:
        job_benchmark("evaluate", "{scene}", "{style}", "{method}")
    threads: 1
    resources:
        # LPIPS and VGG run on the device (on CPU where there is none)
        gpu=1,
        gpu_mem_mb=config["gpu_mem_mb"]["evaluate"],
    params:
        # methods decides which evaluate jobs exist, not how one runs: a new row reruns no other job
        settings=settings("evaluate"),
    conda:
        "../../envs/metrics.yaml"
    shell:
        "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf evaluate --frames {input.frames}"
        " --depth {input.depth} --median-depth {input.depth_median} --cameras {input.gt}"
        " --style {input.style} --reference-frames {input.reference_frames}"
        " --method {wildcards.method} --scene {wildcards.scene} --style-name {wildcards.style}"
        " --out {output.json} --pairs {output.pairs} --error-maps {output.maps}"
        " --settings {params.settings:q} --runtime \"$STYLIZEDNERF_RUNTIME_EVALUATE\" > {log} 2>&1"


BENCHMARK_JOBS["evaluate"] = lambda: [dict(scene=scene, style=style, method=method)
                                      for scene in SCENES for style in STYLES for method in eval_methods()]
FINAL_OUTPUTS["evaluate"] = lambda: expand("results/{scene}/{style}/eval/{method}.json", scene=SCENES,
                                           style=STYLES, method=eval_methods())
