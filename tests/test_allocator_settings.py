"""Which stages run with CUDA's expandable allocator segments (stylizednerf.__main__)."""

from stylizednerf.__main__ import EXPANDABLE_SEGMENT_STAGES, STAGES, allocator_settings


def test_the_stylize_and_arf_stages_ask_for_expandable_segments():
    for stage in ("stylize", "arf"):
        assert allocator_settings(stage, {}) == {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}


def test_other_stages_keep_the_default_allocator():
    # the NeRF's compiled CUDA graphs were never measured with expandable segments
    for stage in ("pretrain-nerf", "pretrain-decoder", "render", "evaluate"):
        assert allocator_settings(stage, {}) == {}


def test_a_users_allocator_setting_wins():
    assert allocator_settings("stylize", {"PYTORCH_CUDA_ALLOC_CONF": "max_split_size_mb:512"}) == {}


def test_the_listed_stages_exist():
    assert EXPANDABLE_SEGMENT_STAGES <= set(STAGES)
