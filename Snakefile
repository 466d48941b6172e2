# stylizednerf: consistent 3D scene stylization (StylizedNeRF, CVPR 2022).
#   snakemake --cores all                                 # the generated demo (config.yaml)
#   snakemake --cores all --configfile config/paper.yaml  # the paper's LLFF scenes
# One rule file per stage in workflow/rules/; every rule runs `python -m stylizednerf <stage>`.
from snakemake.utils import min_version

min_version("9.0")


# config.yaml is the default; a --configfile replaces it rather than being merged into it (a
# merge would add the demo's scenes and styles to every other configuration).
if not workflow.config_settings.configfiles:

    configfile: "config.yaml"


include: "workflow/rules/common.smk"


report: "workflow/report/workflow.rst"


wildcard_constraints:
    scene="|".join(SCENES),
    style="|".join(STYLES),


include: "workflow/rules/demo.smk"
include: "workflow/rules/styles.smk"
include: "workflow/rules/poses.smk"
include: "workflow/rules/nerf.smk"
include: "workflow/rules/stylization2d.smk"
include: "workflow/rules/stylize.smk"
include: "workflow/rules/arf.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
