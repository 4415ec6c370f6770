import pytest
import torch

from styleport.cli import main
from styleport.precision import Precision, auto_precision, cpu_bf16_flags, cuda_conv_flags
from styleport.stylize import Stylizer
from tests.conftest import PHOTOS, make_net

ZEN5 = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni avx512_bf16 avx512_fp16\n"
SKYLAKE = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw avx512_vnni\n"
SAPPHIRE = "flags\t\t: avx512f avx512_bf16 amx_bf16 amx_tile\n"


def test_cpu_flags_are_read_from_the_flags_line_only():
    assert cpu_bf16_flags(ZEN5) == ("avx512_bf16",)
    assert cpu_bf16_flags(SAPPHIRE) == ("avx512_bf16", "amx_bf16")
    assert cpu_bf16_flags(SKYLAKE) == ()  # AVX-512 without native bf16: oneDNN would emulate it
    assert cpu_bf16_flags("model name\t: avx512_bf16 lookalike\n") == ()
    assert cpu_bf16_flags("") == ()


@pytest.mark.parametrize(
    ("device", "cpuinfo", "want"),
    [
        ("cpu", ZEN5, Precision.BF16),
        ("cpu", SAPPHIRE, Precision.BF16),
        ("cpu", SKYLAKE, Precision.FP32),
        ("cpu", "", Precision.FP32),
        ("cuda", "", Precision.FP16),
        ("mps", ZEN5, Precision.FP32),
    ],
)
def test_auto_precision_choice(device, cpuinfo, want):
    precision, reason = auto_precision(torch.device(device), cpuinfo)
    assert precision is want and reason


def test_stylizer_accepts_auto():
    s = Stylizer(make_net(), device="cpu", precision="auto")
    assert s.precision is auto_precision(torch.device("cpu"))[0]
    assert s.precision_reason


def test_cli_verbose_prints_the_choice_and_measured_psnr(tmp_path, tiny_model_file, capsys):
    out = tmp_path / "o.png"
    assert main(["stylize", str(tiny_model_file), str(PHOTOS[0]), "-o", str(out), "--size", "64", "--verbose"]) == 0
    err = capsys.readouterr().err
    chosen = auto_precision(torch.device("cpu"))[0]
    assert f"precision: {chosen} on cpu" in err
    if chosen is Precision.FP32:
        assert "PSNR" not in err
    else:  # measured on this image now, and said so
        assert "vs fp32 on" in err and "dB (measured now" in err


def test_cuda_conv_flags_turn_tf32_off_for_fp32_and_time_algorithms(monkeypatch):
    cudnn = torch.backends.cudnn
    monkeypatch.setattr(cudnn, "allow_tf32", True)  # torch's default: TF32 convs on Ampere and later
    before = (cudnn.allow_tf32, cudnn.benchmark, cudnn.deterministic)
    with cuda_conv_flags(Precision.FP32, "cuda"):
        assert not cudnn.allow_tf32 and cudnn.benchmark and cudnn.deterministic == before[2]
    with cuda_conv_flags(Precision.FP16, "cuda"):
        assert cudnn.allow_tf32 and cudnn.benchmark
    with cuda_conv_flags(Precision.FP32, "cpu"):
        assert (cudnn.allow_tf32, cudnn.benchmark) == before[:2]
    assert (cudnn.allow_tf32, cudnn.benchmark, cudnn.deterministic) == before
