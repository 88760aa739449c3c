"""Edge students and the CNN teacher: the analytic blend, colour keeping, text, ONNX."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgefuse.errors import ConfigError, ShapeMismatchError
from edgefuse.models import count_flops, count_params, create_model


def _pair(h: int, w: int, n: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, h, w, generator=g), torch.rand(n, 1, h, w, generator=g)


def _export_dynamic(model: torch.nn.Module, example: tuple[torch.Tensor, torch.Tensor], path) -> None:
    """ONNX export of ``model`` (vis, ir) -> fused with dynamic height and width, as the parity tests need."""
    torch.onnx.export(model, example, str(path), input_names=["vis", "ir"], output_names=["fused"],
                      opset_version=17, dynamo=False,
                      dynamic_axes={"vis": {2: "h", 3: "w"}, "ir": {2: "h", 3: "w"}, "fused": {2: "h", 3: "w"}})


def test_untrained_head_is_average_base_plus_both_details():
    """Zero-initialised head: w = 0.5, a = b = 1, residual 0 -> Y = (B(ir)+B(Y))/2 + D(ir) + D(Y)."""
    model = create_model("edge_nano", clamp_output=False).eval()
    vis = torch.full((1, 3, 16, 16), 0.4)
    ir = torch.full((1, 1, 16, 16), 0.8)
    with torch.no_grad():
        out = model(vis, ir)
    # flat images: no detail; Y = 0.6, added equally to R, G, B
    torch.testing.assert_close(out, torch.full_like(out, 0.6), atol=1e-5, rtol=0)


def test_chroma_of_visible_is_kept():
    model = create_model("edge_nano", clamp_output=False).eval()
    for p in model.head.parameters():
        torch.nn.init.normal_(p, std=0.5)
    vis, ir = _pair(24, 40)
    with torch.no_grad():
        out = model(vis, ir)

    def chroma(x):  # BT.601 Cb, Cr (coefficients sum to zero)
        r, g, b = x[:, 0], x[:, 1], x[:, 2]
        return -0.168736 * r - 0.331264 * g + 0.5 * b, 0.5 * r - 0.418688 * g - 0.081312 * b

    for got, want in zip(chroma(out), chroma(vis)):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_any_size_and_features():
    model = create_model("edge_nano").eval()
    vis, ir = _pair(37, 53, n=2)
    with torch.no_grad():
        out, feats = model(vis, ir, return_features=True)
    assert out.shape == (2, 3, 37, 53)
    assert [f.shape[1] for f in feats] == list(model.feature_channels)
    assert feats[-1].shape[-2:] == (37, 53)


def test_budget_of_edge_nano():
    model = create_model("edge_nano")
    assert count_params(model) < 50_000
    assert count_flops(model, 480, 640) <= 5.0  # issue 3: at most 5 GFLOPs at 480x640


def test_teacher_needs_text_and_student_has_no_text_modules():
    teacher = create_model("edge_teacher").eval()
    vis, ir = _pair(16, 16)
    with pytest.raises(ConfigError, match="text embeddings of shape"):
        teacher(vis, ir)
    t1, t2 = torch.zeros(1, 384), torch.ones(1, 384)
    for p in [*teacher.guides.parameters(), *teacher.head.parameters()]:
        torch.nn.init.normal_(p, std=0.1)  # the head starts at zero, hiding the features
    with torch.no_grad():
        assert not torch.allclose(teacher(vis, ir, t1), teacher(vis, ir, t2))
    student = create_model("edge_nano")
    assert student.guides is None and not any("guide" in n for n, _ in student.named_modules())


def test_shape_errors():
    model = create_model("edge_nano")
    with pytest.raises(ShapeMismatchError):
        model(torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 9))
    with pytest.raises(ShapeMismatchError):
        model(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))


@pytest.mark.ort
def test_edge_nano_onnx_matches_torch(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    model = create_model("edge_nano").eval()
    for p in model.head.parameters():
        torch.nn.init.normal_(p, std=0.3)
    vis, ir = _pair(48, 64)
    path = tmp_path / "m.onnx"
    _export_dynamic(model, (vis, ir), path)
    sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for h, w in ((48, 64), (30, 50)):  # the second size was not used in export
        v, i = _pair(h, w, seed=3)
        with torch.no_grad():
            ref = model(v, i).numpy()
        got = sess.run(["fused"], {"vis": v.numpy(), "ir": i.numpy()})[0]
        assert np.abs(got - ref).max() <= 1e-4


@pytest.mark.parametrize("name", ["edge_nano", "edge_small", "edge_teacher"])
def test_export_forms_match_eager(monkeypatch, name):
    """Luminance MatMul, maps resized as a batch, separable low-pass: the export forms == eager."""
    torch.manual_seed(0)
    model = create_model(name).eval()
    for p in list(model.head.parameters()) + list(model.residual.parameters()):
        torch.nn.init.normal_(p, std=0.3)
    vis, ir = _pair(37, 52, n=2, seed=5)  # odd size: the resize is not an exact 2x
    text = torch.randn(2, model.text_dim) if model.text_dim else None
    calls = []
    for fn in ("_luminance", "_blend_maps", "_lowpass"):
        original = getattr(model, fn)
        monkeypatch.setattr(model, fn, lambda *a, _f=original, _n=fn: calls.append(_n) or _f(*a))
    with torch.no_grad():
        eager = model(vis, ir, text)
        monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)
        exported = model(vis, ir, text)
    assert sorted(set(calls)) == ["_blend_maps", "_lowpass", "_luminance"]
    torch.testing.assert_close(exported, eager, atol=1e-5, rtol=1e-5)


@pytest.mark.ort
def test_edge_export_has_no_padded_full_resolution_convs(tmp_path):
    """No 3->1 luminance conv and no grouped 5x5 in the exported graph (the export forms are used)."""
    onnx = pytest.importorskip("onnx")
    from edgefuse.export.onnx import export_onnx

    path = export_onnx(create_model("edge_nano").eval(), tmp_path / "m.onnx", 64, 96)
    graph = onnx.load(str(path)).graph
    weights = {t.name: tuple(t.dims) for t in graph.initializer}
    conv_weights = [weights.get(n.input[1]) for n in graph.node if n.op_type == "Conv"]
    assert (1, 3, 1, 1) not in conv_weights
    assert (2, 1, 5, 5) not in conv_weights
    assert (2, 1, 5, 1) in conv_weights and (2, 1, 1, 5) in conv_weights
    assert any(n.op_type == "MatMul" for n in graph.node)


def test_ir_gain_starts_as_the_identity_and_stretches_once_trained():
    import torch

    from edgefuse.models import create_model

    nano, rx = create_model("edge_nano").eval(), create_model("edge_nano_rx").eval()
    rx.load_state_dict(nano.state_dict(), strict=False)
    vis, ir = torch.rand(2, 3, 40, 56), 0.4 + 0.1 * torch.rand(2, 1, 40, 56)  # a washed-out IR
    with torch.no_grad():
        assert torch.allclose(nano(vis, ir), rx(vis, ir), atol=1e-6)
        rx.ir_gain[2].bias.fill_(1.0)  # a positive gain logit: g = exp(1.5 tanh(1)) ~ 3.1
        stretched = rx._stretch_ir(ir, rx._luminance(vis))
    assert stretched.std() > 2.5 * ir.std() and abs(float(stretched.mean() - ir.mean())) < 0.01
    assert sum(p.numel() for p in rx.parameters()) - sum(p.numel() for p in nano.parameters()) == 49


def test_black_level_clamp_leaves_a_black_ir_alone_and_restores_a_raised_one():
    from edgefuse.models import create_model

    nano, agc = create_model("edge_nano").eval(), create_model("edge_nano_agc").eval()
    assert agc.load_state_dict(nano.state_dict()).missing_keys == []  # no new parameters
    g = torch.Generator().manual_seed(0)
    vis = torch.rand(2, 3, 48, 64, generator=g)
    ir = torch.zeros(2, 1, 48, 64)
    ir[:, :, :, 32:] = 0.8 * torch.rand(2, 1, 48, 32, generator=g)  # the left half is black
    with torch.no_grad():
        assert torch.equal(nano(vis, ir), agc(vis, ir))  # black level 0: exactly the same result
        washed = 0.3 + 0.4 * ir  # pedestal 0.3, contrast 0.4 (what ir_low_contrast does)
        restored = agc._remove_black_level(washed)
    blocks = torch.nn.functional.avg_pool2d(washed, 8)
    lo, hi = blocks.amin(dim=(2, 3), keepdim=True), blocks.amax(dim=(2, 3), keepdim=True)
    assert float(restored.amin()) < 1e-6 and torch.allclose(lo, torch.full_like(lo, 0.3))
    # the stretch is linear, maps the black level to 0 and keeps the white point hi
    torch.testing.assert_close(restored, ((washed - lo) * hi / (hi - lo)).clamp(0, 1))
    assert restored.std() > 2.0 * washed.std() and float(lo.max() / hi.min()) > 0.40  # full strength here
    mild = 0.05 + 0.9 * ir  # a pedestal of 5 % of the white level: a normal AGC'd frame, left alone
    with torch.no_grad():
        assert torch.equal(agc._remove_black_level(mild), mild)
        two_level = torch.zeros(1, 1, 32, 32)
        two_level[..., 16:] = 0.9
        # black 0.25, white 0.79: rho 0.32, strength 0.44, so 0.11 of the 0.25 pedestal comes off
        half = agc._remove_black_level(0.25 + 0.6 * two_level)
    torch.testing.assert_close(half.amin(), torch.tensor((0.25 - 0.1101) * 0.79 / (0.79 - 0.1101)), atol=2e-3, rtol=0)
    flat = torch.full((1, 1, 16, 16), 0.5)
    with torch.no_grad():
        assert torch.equal(agc._remove_black_level(flat), torch.zeros_like(flat))  # one grey: 0, finite


def test_edge_nano_agc_onnx_matches_torch(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    model = create_model("edge_nano_agc").eval()
    for p in model.head.parameters():
        torch.nn.init.normal_(p, std=0.3)
    path = tmp_path / "agc.onnx"
    vis, ir = _pair(48, 64)
    _export_dynamic(model, (vis, 0.2 + 0.5 * ir), path)
    ops = {n.op_type for n in __import__("onnx").load(str(path)).graph.node}
    assert {"AveragePool", "ReduceMin", "ReduceMax"} <= ops
    sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for h, w in ((48, 64), (30, 50)):
        v, i = _pair(h, w, seed=4)
        i = 0.25 + 0.4 * i  # raised black level: the clamp is active
        with torch.no_grad():
            ref = model(v, i).numpy()
        got = sess.run(["fused"], {"vis": v.numpy(), "ir": i.numpy()})[0]
        assert np.abs(got - ref).max() <= 1e-4


def _smooth_scene(h: int = 96, w: int = 128) -> torch.Tensor:
    """A noise-free scene: a ramp plus a few flat blocks with sharp edges, in [0.1, 0.9]."""
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    img = 0.2 + 0.4 * x + 0.1 * y
    img[16:48, 20:60] += 0.25
    img[60:90, 80:120] -= 0.1
    return img.clamp(0.1, 0.9)[None, None]


def test_denoise_estimates_the_noise_shrinks_it_and_leaves_a_clean_image_alone():
    nano = create_model("edge_nano").eval()
    den = create_model("edge_nano", ir_denoise=True, vis_denoise=True).eval()
    assert den.load_state_dict(nano.state_dict()).missing_keys == []  # no new parameters
    clean = _smooth_scene()
    g = torch.Generator().manual_seed(0)
    x4 = clean.expand(1, 4, -1, -1)
    with torch.no_grad():
        flat, _ = den.noise_levels(x4)
        assert float(flat.max()) < 0.002  # edges are not noise
        assert torch.equal(den._shrink(x4, 0), x4)  # below the start level: unchanged
        for sigma in (0.01, 0.03):
            noisy = x4 + sigma * torch.randn(x4.shape, generator=g)
            flat, _ = den.noise_levels(noisy)
            torch.testing.assert_close(flat, torch.full_like(flat, sigma), rtol=0.2, atol=0)
            out = den._shrink(noisy, 0)
            # the error to the clean scene drops by more than half (full strength at these levels)
            assert float(((out - x4) ** 2).mean()) < 0.5 * float(((noisy - x4) ** 2).mean())
        vis, ir = clean.expand(1, 3, -1, -1).contiguous(), clean.contiguous()
        assert torch.equal(den(vis, ir), nano(vis, ir))  # a clean pair fuses exactly as without it
        tiny_v, tiny_i = torch.rand(1, 3, 5, 7, generator=g), torch.rand(1, 1, 5, 7, generator=g)
        assert torch.equal(den(tiny_v, tiny_i), nano(tiny_v, tiny_i))  # too small to estimate: as without


@pytest.mark.parametrize("flags", [{"ir_denoise": True}, {"ir_denoise": True, "vis_denoise": True}])
def test_edge_nano_denoise_onnx_matches_torch(tmp_path, flags):
    onnxruntime = pytest.importorskip("onnxruntime")
    model = create_model("edge_nano", **flags).eval()
    for p in model.head.parameters():
        torch.nn.init.normal_(p, std=0.3)
    path = tmp_path / "dn.onnx"
    vis, ir = _pair(48, 64)
    _export_dynamic(model, (vis, ir), path)
    ops = {n.op_type for n in __import__("onnx").load(str(path)).graph.node}
    assert {"AveragePool", "Less"} <= ops
    sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    plain = create_model("edge_nano").eval()
    plain.load_state_dict(model.state_dict())
    g = torch.Generator().manual_seed(7)
    for h, w in ((48, 64), (30, 50)):
        scene = torch.nn.functional.interpolate(_smooth_scene(), size=(h, w), mode="bilinear")
        v = (scene.expand(1, 3, h, w) + 0.03 * torch.randn(1, 3, h, w, generator=g)).clamp(0, 1)
        i = (scene + 0.03 * torch.randn(1, 1, h, w, generator=g)).clamp(0, 1)  # noisy: the shrinkage is on
        with torch.no_grad():
            ref = model(v, i).numpy()
            assert np.abs(ref - plain(v, i).numpy()).max() > 0.01  # the shrinkage changed the result
        got = sess.run(["fused"], {"vis": v.numpy(), "ir": i.numpy()})[0]
        assert np.abs(got - ref).max() <= 1e-4


def test_noise_start_moves_the_gate_and_bad_levels_are_refused():
    scene = _smooth_scene()
    noisy = (scene + 0.01 * torch.randn(scene.shape, generator=torch.Generator().manual_seed(1))).contiguous()
    default = create_model("edge_nano", ir_denoise=True).eval()
    high = create_model("edge_nano", ir_denoise=True, noise_start=[0.05, 0.05, 0.05, 0.05]).eval()
    with torch.no_grad():
        assert not torch.equal(default._shrink(noisy, 0), noisy)  # 0.01 is above the default IR start level
        assert torch.equal(high._shrink(noisy, 0), noisy)  # and below a start level of 0.05
    for bad in ([0.01, 0.01, 0.01], [0.01, 0.0, 0.01, 0.01]):
        with pytest.raises(ConfigError, match="noise_start takes 4 positive levels"):
            create_model("edge_nano", ir_denoise=True, noise_start=bad)


def test_denoise_of_a_perfectly_flat_frame_is_finite_and_unchanged():
    """Zero detail energy (a saturated or black frame) divides by the floor, not by 0, at any strength."""
    den = create_model("edge_nano", ir_denoise=True, vis_denoise=True).eval()
    flat = torch.full((1, 4, 32, 40), 0.5)
    noisy = flat.clone()
    noisy[..., :, 20:] += 0.05 * torch.randn(1, 4, 32, 20, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.equal(den._shrink(flat, 0), flat)
        out = den._shrink(noisy, 0)
    assert torch.isfinite(out).all() and torch.equal(out[..., :, :16], flat[..., :, :16])


def test_destripe_removes_column_offsets_and_leaves_a_clean_image_alone():
    nano = create_model("edge_nano").eval()
    ds = create_model("edge_nano", ir_destripe=True).eval()
    assert ds.load_state_dict(nano.state_dict()).missing_keys == []  # no new parameters
    clean = _smooth_scene()
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        # edges, ramps and vertical block borders are not stripes: below the start level, unchanged
        assert float(ds.stripe_profile(clean).abs().mean()) < 0.0026
        assert torch.equal(ds._destripe(clean), clean)
        vis = clean.expand(1, 3, -1, -1).contiguous()
        assert torch.equal(ds(vis, clean), nano(vis, clean))
        for stripe, sigma in ((0.01, 0.02), (0.03, 0.05)):
            offsets = stripe * torch.randn(1, 1, 1, clean.shape[-1], generator=g)
            noisy = clean + offsets + sigma * torch.randn(clean.shape, generator=g)
            out = ds._destripe(noisy)
            # the column error (mean over rows of the error to the clean scene): its column-to-column steps,
            # the stripes an edge measure sees, drop by more than 2.5x; what is left is smooth (the 1x9 box
            # average of the offsets, which no row-direction filter can tell from the scene)
            before, after = (noisy - clean).mean(dim=2), (out - clean).mean(dim=2)
            assert float(after.diff(dim=-1).std()) < 0.4 * float(before.diff(dim=-1).std())
            assert float(after.std()) < 0.75 * float(before.std())
            # the noise estimate of the denoising does not see stripes (Immerkaer's kernel sums to 0 per column)
            _, s_with = ds.noise_levels(noisy)
            _, s_without = ds.noise_levels(noisy - offsets)
            torch.testing.assert_close(s_with, s_without)
        tiny = torch.rand(1, 1, 5, 7, generator=g)
        assert torch.equal(ds._destripe(tiny), tiny)
    for bad in (0.0, -1e-3, "0.002", True):
        with pytest.raises(ConfigError, match="stripe_start takes a positive level"):
            create_model("edge_nano", ir_destripe=True, stripe_start=bad)


def test_edge_nano_destripe_onnx_matches_torch(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    model = create_model("edge_nano", ir_destripe=True, ir_denoise=True).eval()
    for p in model.head.parameters():
        torch.nn.init.normal_(p, std=0.3)
    path = tmp_path / "ds.onnx"
    vis, ir = _pair(48, 64)
    _export_dynamic(model, (vis, ir), path)
    sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    plain = create_model("edge_nano", ir_denoise=True).eval()
    plain.load_state_dict(model.state_dict())
    g = torch.Generator().manual_seed(8)
    for h, w in ((48, 64), (30, 50)):
        scene = torch.nn.functional.interpolate(_smooth_scene(), size=(h, w), mode="bilinear")
        v = scene.expand(1, 3, h, w).contiguous()
        i = (scene + 0.03 * torch.randn(1, 1, 1, w, generator=g) + 0.02 * torch.randn(1, 1, h, w, generator=g))
        i = i.clamp(0, 1)  # striped: the removal is on
        with torch.no_grad():
            ref = model(v, i).numpy()
            assert np.abs(ref - plain(v, i).numpy()).max() > 0.01  # the destriping changed the result
        got = sess.run(["fused"], {"vis": v.numpy(), "ir": i.numpy()})[0]
        assert np.abs(got - ref).max() <= 1e-4


def _overexposed(scene: torch.Tensor, gain: float, offset: float) -> torch.Tensor:
    """The visible of ``scene`` (N,1,H,W) with an exposure gain and offset, clipped at white."""
    return (scene * gain + offset).clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def _window_share(white: np.ndarray, r: int, c: int, half: int = 15) -> float:
    """Share of True in the (2 half + 1)^2 window around (r, c), cut at the image border."""
    return float(white[max(r - half, 0):r + half + 1, max(c - half, 0):c + half + 1].mean())


def test_exposure_stage_hands_white_regions_to_the_ir_and_leaves_the_rest_alone():
    nano = create_model("edge_nano").eval()
    ex = create_model("edge_nano", vis_exposure=True).eval()
    assert ex.load_state_dict(nano.state_dict()).missing_keys == []  # no new parameters
    for p in nano.head.parameters():  # a head that prefers the visible everywhere (w near 0, a near 0)
        torch.nn.init.constant_(p, 0.0)
    torch.nn.init.constant_(nano.head.bias, -4.0)
    ex.load_state_dict(nano.state_dict())
    scene = _smooth_scene()
    ir = (1.0 - scene).contiguous()
    vis = scene.expand(1, 3, -1, -1).contiguous()
    with torch.no_grad():
        assert torch.equal(ex(vis, ir), nano(vis, ir))  # nothing clipped: unchanged
        sparse = vis.clone()
        sparse[..., ::2, ::2] = 1.0  # a quarter of the pixels white, scattered: no window is half white
        assert float(ex.overexposure(ex._luminance(sparse)).max()) == 0.0
        assert torch.equal(ex(sparse, ir), nano(sparse, ir))
        bright = _overexposed(scene, 2.0, 0.1)  # a large region clipped at white, the rest below
        y = ex._luminance(bright)
        white = (y >= 254 / 255)[0, 0].numpy()
        assert 0.3 < white.mean() < 0.9
        over = ex.overexposure(y)[0, 0].numpy()
        late = create_model("edge_nano", vis_exposure=True, clip_start=0.9).eval().overexposure(y)[0, 0].numpy()
        rng = np.random.default_rng(0)
        for r, c in zip(rng.integers(0, 96, 40), rng.integers(0, 128, 40)):  # the 31x31 box share, by hand
            share = _window_share(white, int(r), int(c))
            assert abs(over[r, c] - np.clip((share - 0.5) / 0.5, 0, 1)) < 1e-5
            assert abs(late[r, c] - np.clip((share - 0.9) / 0.1, 0, 1)) < 1e-4
        inside = over == 1.0
        assert inside.sum() > 500 and (over[~white] < 1.0).all()  # full only where the whole window is white
        out, plain = ex(bright, ir), nano(bright, ir)
        # inside the white region the output follows the IR instead of staying white
        err_ex = (out.mean(dim=1) - ir[:, 0])[0].numpy()[inside]
        err_plain = (plain.mean(dim=1) - ir[:, 0])[0].numpy()[inside]
        assert np.abs(err_ex).mean() < 0.25 * np.abs(err_plain).mean()
    for bad in (0.0, 1.0, -0.1, "0.5", True):
        with pytest.raises(ConfigError, match="clip_start takes a share of pixels"):
            create_model("edge_nano", vis_exposure=True, clip_start=bad)


def test_edge_nano_exposure_onnx_matches_torch(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    model = create_model("edge_nano", vis_exposure=True).eval()
    for p in model.head.parameters():
        torch.nn.init.normal_(p, std=0.3)
    path = tmp_path / "ex.onnx"
    vis, ir = _pair(48, 64)
    _export_dynamic(model, (vis, ir), path)
    ops = [n.op_type for n in __import__("onnx").load(str(path)).graph.node]
    assert "Less" in ops and ops.count("AveragePool") >= 2
    sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    plain = create_model("edge_nano").eval()
    plain.load_state_dict(model.state_dict())
    for h, w in ((48, 64), (30, 50)):
        scene = torch.nn.functional.interpolate(_smooth_scene(), size=(h, w), mode="bilinear")
        v, i = _overexposed(scene, 2.0, 0.1), (1.0 - scene).contiguous()  # clipped: the stage is on
        with torch.no_grad():
            ref = model(v, i).numpy()
            assert np.abs(ref - plain(v, i).numpy()).max() > 0.05  # the stage changed the result
        got = sess.run(["fused"], {"vis": v.numpy(), "ir": i.numpy()})[0]
        assert np.abs(got - ref).max() <= 1e-4


def test_self_prior_student_starts_as_the_plain_student_and_reads_the_degradation():
    """edge_nano_sp: same output as edge_nano with the same weights at the start; its descriptor sees each degradation."""
    from edgefuse.data.degrade import degrade_pair

    torch.manual_seed(0)
    plain, sp = create_model("edge_nano").eval(), create_model("edge_nano_sp").eval()
    missing = sp.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith(("guides.", "prior_")) for k in missing)
    torch.nn.init.normal_(sp.head.weight, std=0.1)  # a non-trivial blend, so that the comparison means something
    plain.head.weight.data.copy_(sp.head.weight.data)
    rng = np.random.default_rng(0)  # a scene of flat 8x8 blocks with a little grain, as in real pairs
    vis_u8 = (np.kron(rng.random((8, 10, 3)), np.ones((8, 8, 1))) * 200 + 20 + rng.normal(0, 1, (64, 80, 3))).astype(np.uint8)
    ir_u8 = (np.kron(rng.random((8, 10)), np.ones((8, 8))) * 200 + 20 + rng.normal(0, 1, (64, 80))).astype(np.uint8)
    vis = torch.from_numpy(vis_u8.astype(np.float32) / 255).permute(2, 0, 1)[None]
    ir = torch.from_numpy(ir_u8.astype(np.float32) / 255)[None, None]
    with torch.no_grad():
        torch.testing.assert_close(sp(vis, ir), plain(vis, ir), atol=1e-6, rtol=1e-6)
        with pytest.raises(ConfigError):
            sp(vis, ir, torch.zeros(1, 4))  # still a text-free student
        clean = sp.descriptor(vis, ir)[0]
        assert clean.shape == (12,)
        names = ["ir_mean", "y_mean", "ir_std", "y_std", "ir_lo_hi", "y_lo_hi", "ir_noise", "y_noise", "ir_edges",
                 "y_edges", "clipped", "dark"]
        moved = {}
        for kind in ("ir_low_contrast", "ir_noise", "low_light", "over_exposure", "motion_blur"):
            dv, di, _ = degrade_pair(vis_u8, ir_u8, kind, 3, np.random.default_rng(1))
            v = torch.from_numpy(dv.astype(np.float32) / 255).permute(2, 0, 1)[None]
            i = torch.from_numpy(di.astype(np.float32) / 255)[None, None]
            moved[kind] = dict(zip(names, (sp.descriptor(v, i)[0] - clean).tolist()))
    assert moved["ir_low_contrast"]["ir_std"] < -0.02 and moved["ir_low_contrast"]["ir_lo_hi"] > 0.05
    assert moved["ir_noise"]["ir_noise"] > 0.1
    assert moved["low_light"]["y_mean"] < -0.1 and moved["low_light"]["dark"] > 0.1
    assert moved["over_exposure"]["clipped"] > 0.05
    assert moved["motion_blur"]["y_noise"] < -0.05 and abs(moved["motion_blur"]["ir_noise"]) < 1e-6  # the grain blurred away
    # DTPF's budget: at most a tenth of the teacher's parameters
    assert count_params(sp) == 20308 and count_params(sp) <= 0.1 * count_params(create_model("edge_teacher"))
    with pytest.raises(ConfigError, match="prior_dim"):
        create_model("edge_nano", prior_dim=0)
    with pytest.raises(ConfigError, match="teacher"):
        create_model("edge_teacher", prior_dim=8)


@pytest.mark.ort
def test_self_prior_student_onnx_matches_torch(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = create_model("edge_nano_sp").eval()
    for p in model.parameters():  # every guide and the gain active
        p.data.add_(0.05 * torch.randn_like(p))
    vis, ir = torch.rand(1, 3, 48, 64), torch.rand(1, 1, 48, 64)
    path = tmp_path / "m.onnx"
    _export_dynamic(model, (vis, ir), path)
    sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for h, w in ((48, 64), (40, 56)):
        vis, ir = torch.rand(1, 3, h, w), torch.rand(1, 1, h, w)
        with torch.no_grad():
            ref = model(vis, ir).numpy()
        out = sess.run(None, {"vis": vis.numpy(), "ir": ir.numpy()})[0]
        np.testing.assert_allclose(out, ref, atol=2e-5)


def test_self_prior_shifts_the_blend_logits_per_image():
    """edge_nano_sp's prior moves the three head logits of the whole frame (the source choice the teacher's text
    makes): a shift on the IR base weight turns the base from the visible's to the IR's."""
    torch.manual_seed(0)
    model = create_model("edge_nano_sp").eval()
    vis, ir = torch.rand(1, 3, 32, 32), torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        _, _, before = model(vis, ir, return_features=True, return_maps=True)
        model.prior_bias.bias.copy_(torch.tensor([6.0, 0.0, 0.0]))
        _, _, after = model(vis, ir, return_features=True, return_maps=True)
    w_before = before[:, 0]
    assert torch.allclose(w_before, torch.full_like(w_before, 0.5))  # zero start: the plain student's w = 0.5
    assert float(after[:, 0].min()) > 0.99 and torch.allclose(after[:, 1:], before[:, 1:])
