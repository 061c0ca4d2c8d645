#!/usr/bin/env python3
"""The reference CLIP architecture in PyTorch, for speed comparisons with clip-ts.

A compact copy of openai/CLIP's model.py (same module names, so its state dicts load unchanged),
run in eval mode, float32, under torch.no_grad with a fixed thread count. The model is built from
a checkpoint the way the reference's `build_model` does (shapes give the configuration); the
benchmark writes random-weight checkpoints of the real sizes with clip-ts and hands them over.

  clip_reference.py CHECKPOINT [--threads N] --bench [--tasks image,text] [--batches 1,32]
      times encode_image / encode_text and prints one JSON line per measurement
  clip_reference.py CHECKPOINT --export DIR     torch.onnx.export of both towers (dynamic batch)
  clip_reference.py CHECKPOINT --load-probe [--batch B]   first/cached load time, peak RSS
  clip_reference.py CHECKPOINT --serve          JSON commands on stdin, one JSON reply per line
                                                (bench/main.ts drives this to alternate runs)
"""
import argparse
import json
import math
import os
import resource
import statistics
import sys
import time
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn


# ---- openai/CLIP model.py, inference parts only ----

class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU(inplace=True)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu3 = nn.ReLU(inplace=True)
        self.downsample = None
        if stride > 1 or inplanes != planes * self.expansion:
            self.downsample = nn.Sequential(OrderedDict([
                ("-1", nn.AvgPool2d(stride)),
                ("0", nn.Conv2d(inplanes, planes * self.expansion, 1, stride=1, bias=False)),
                ("1", nn.BatchNorm2d(planes * self.expansion)),
            ]))

    def forward(self, x):
        identity = x
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.avgpool(out)
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu3(out)


class AttentionPool2d(nn.Module):
    def __init__(self, spacial_dim, embed_dim, num_heads, output_dim=None):
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.randn(spacial_dim ** 2 + 1, embed_dim) / embed_dim ** 0.5)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim or embed_dim)
        self.num_heads = num_heads

    def forward(self, x):
        x = x.flatten(start_dim=2).permute(2, 0, 1)  # NCHW -> (HW)NC
        x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)  # (HW+1)NC
        x = x + self.positional_embedding[:, None, :].to(x.dtype)
        x, _ = F.multi_head_attention_forward(
            query=x[:1], key=x, value=x, embed_dim_to_check=x.shape[-1], num_heads=self.num_heads,
            q_proj_weight=self.q_proj.weight, k_proj_weight=self.k_proj.weight, v_proj_weight=self.v_proj.weight,
            in_proj_weight=None, in_proj_bias=torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]),
            bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0,
            out_proj_weight=self.c_proj.weight, out_proj_bias=self.c_proj.bias,
            use_separate_proj_weight=True, training=self.training, need_weights=False)
        return x.squeeze(0)


class ModifiedResNet(nn.Module):
    def __init__(self, layers, output_dim, heads, input_resolution=224, width=64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width // 2, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width // 2, width // 2, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(width // 2, width, kernel_size=3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.relu3 = nn.ReLU(inplace=True)
        self.avgpool = nn.AvgPool2d(2)
        self._inplanes = width
        self.layer1 = self._make_layer(width, layers[0])
        self.layer2 = self._make_layer(width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(width * 8, layers[3], stride=2)
        self.attnpool = AttentionPool2d(input_resolution // 32, width * 32, heads, output_dim)

    def _make_layer(self, planes, blocks, stride=1):
        layers = [Bottleneck(self._inplanes, planes, stride)]
        self._inplanes = planes * Bottleneck.expansion
        layers += [Bottleneck(self._inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        x = self.relu3(self.bn3(self.conv3(x)))
        x = self.avgpool(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.attnpool(x)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, d_model, n_head, attn_mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_head)
        self.ln_1 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(d_model, d_model * 4)),
            ("gelu", QuickGELU()),
            ("c_proj", nn.Linear(d_model * 4, d_model)),
        ]))
        self.ln_2 = nn.LayerNorm(d_model)
        self.attn_mask = attn_mask

    def attention(self, x):
        mask = self.attn_mask.to(dtype=x.dtype, device=x.device) if self.attn_mask is not None else None
        return self.attn(x, x, x, need_weights=False, attn_mask=mask)[0]

    def forward(self, x):
        x = x + self.attention(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, attn_mask=None):
        super().__init__()
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, attn_mask) for _ in range(layers)])

    def forward(self, x):
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    def __init__(self, input_resolution, patch_size, width, layers, heads, output_dim):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        scale = width ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn((input_resolution // patch_size) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, x):
        x = self.conv1(x)  # shape = [*, width, grid, grid]
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)  # shape = [*, grid ** 2, width]
        cls = torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype, device=x.device)
        x = torch.cat([self.class_embedding.to(x.dtype) + cls, x], dim=1)
        x = self.ln_pre(x + self.positional_embedding.to(x.dtype))
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)  # NLD -> LND -> NLD
        return self.ln_post(x[:, 0, :]) @ self.proj


class CLIP(nn.Module):
    def __init__(self, embed_dim, image_resolution, vision_layers, vision_width, vision_patch_size,
                 context_length, vocab_size, transformer_width, transformer_heads, transformer_layers):
        super().__init__()
        self.context_length = context_length
        if isinstance(vision_layers, (tuple, list)):
            self.visual = ModifiedResNet(vision_layers, embed_dim, vision_width * 32 // 64, image_resolution,
                                         vision_width)
        else:
            self.visual = VisionTransformer(image_resolution, vision_patch_size, vision_width, vision_layers,
                                            vision_width // 64, embed_dim)
        self.transformer = Transformer(transformer_width, transformer_layers, transformer_heads,
                                       self.build_attention_mask())
        self.vocab_size = vocab_size
        self.token_embedding = nn.Embedding(vocab_size, transformer_width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, transformer_width))
        self.ln_final = nn.LayerNorm(transformer_width)
        self.text_projection = nn.Parameter(torch.empty(transformer_width, embed_dim))
        self.logit_scale = nn.Parameter(torch.ones([]))

    def build_attention_mask(self):
        mask = torch.empty(self.context_length, self.context_length)
        mask.fill_(float("-inf"))
        mask.triu_(1)  # zero out the lower diagonal
        return mask

    def encode_image(self, image):
        return self.visual(image)

    def encode_text(self, text):
        x = self.token_embedding(text) + self.positional_embedding
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)  # NLD -> LND -> NLD
        x = self.ln_final(x)
        # features at the end-of-text token (the highest id in each row)
        return x[torch.arange(x.shape[0]), text.argmax(dim=-1)] @ self.text_projection


def build_model(state_dict):
    """The reference's build_model: the configuration from the tensor shapes; float32 for CPU."""
    vit = "visual.proj" in state_dict
    if vit:
        vision_width = state_dict["visual.conv1.weight"].shape[0]
        vision_layers = len([k for k in state_dict if k.startswith("visual.") and k.endswith(".attn.in_proj_weight")])
        vision_patch_size = state_dict["visual.conv1.weight"].shape[-1]
        grid_size = round((state_dict["visual.positional_embedding"].shape[0] - 1) ** 0.5)
        image_resolution = vision_patch_size * grid_size
    else:
        vision_layers = tuple(len({k.split(".")[2] for k in state_dict if k.startswith(f"visual.layer{b}")})
                              for b in [1, 2, 3, 4])
        vision_width = state_dict["visual.layer1.0.conv1.weight"].shape[0]
        output_width = round((state_dict["visual.attnpool.positional_embedding"].shape[0] - 1) ** 0.5)
        vision_patch_size = None
        image_resolution = output_width * 32
    embed_dim = state_dict["text_projection"].shape[1]
    context_length = state_dict["positional_embedding"].shape[0]
    vocab_size = state_dict["token_embedding.weight"].shape[0]
    transformer_width = state_dict["ln_final.weight"].shape[0]
    transformer_layers = len({k.split(".")[2] for k in state_dict if k.startswith("transformer.resblocks")})
    model = CLIP(embed_dim, image_resolution, vision_layers, vision_width, vision_patch_size,
                 context_length, vocab_size, transformer_width, transformer_width // 64, transformer_layers)
    for key in ["input_resolution", "context_length", "vocab_size"]:
        state_dict.pop(key, None)
    model.load_state_dict(state_dict)
    return model.float().eval()


# ---- benchmark plumbing ----

def load_model(checkpoint):
    return build_model(torch.load(checkpoint, map_location="cpu"))


def image_resolution(model):
    visual = model.visual
    if isinstance(visual, VisionTransformer):
        return visual.conv1.kernel_size[0] * round((visual.positional_embedding.shape[0] - 1) ** 0.5)
    return round((visual.attnpool.positional_embedding.shape[0] - 1) ** 0.5) * 32


def make_inputs(model, task, batch, token_rows=None):
    """Random images, or token rows cycled to `batch` (synthetic rows of varied length when none are given)."""
    generator = torch.Generator().manual_seed(batch)
    if task == "image":
        size = image_resolution(model)
        return torch.randn(batch, 3, size, size, generator=generator)
    if token_rows is None:
        lengths = torch.randint(5, model.context_length, (batch,), generator=generator)
        rows = torch.zeros(batch, model.context_length, dtype=torch.long)
        for i, n in enumerate(lengths.tolist()):
            rows[i, 0] = model.vocab_size - 2  # <|startoftext|>
            rows[i, 1:n - 1] = torch.randint(256, model.vocab_size - 2, (n - 2,), generator=generator)
            rows[i, n - 1] = model.vocab_size - 1  # <|endoftext|>
        return rows
    return torch.tensor([token_rows[i % len(token_rows)] for i in range(batch)], dtype=torch.long)


def encode(model, task, inputs):
    with torch.no_grad():
        return model.encode_image(inputs) if task == "image" else model.encode_text(inputs)


def timed(model, task, inputs):
    """Seconds one encode takes, and the output's shape."""
    start = time.perf_counter()
    out = encode(model, task, inputs)
    return time.perf_counter() - start, list(out.shape)


def peak_rss_mb():
    # VmHWM is this process image's own high-water mark; ru_maxrss would also count the RSS of
    # the (large) benchmark process that spawned us, which Linux carries across fork and exec.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def blas_libraries():
    """The BLAS torch runs on: Debian's torch takes whatever libblas.so.3 points to, and the
    reference (netlib) one makes it ~30x slower than OpenBLAS (apt-get install libopenblas0-openmp)."""
    try:
        with open("/proc/self/maps") as maps:
            return sorted({line.split()[-1] for line in maps if "blas" in line.split()[-1]})
    except OSError:
        return []


def export_onnx(model, out_dir):
    """encode_image / encode_text as ONNX files with a dynamic batch axis."""
    os.makedirs(out_dir, exist_ok=True)

    class Tower(nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.model, self.fn = model, fn

        def forward(self, x):
            return self.fn(x)

    paths = {}
    for task, fn, name, out in [("image", model.encode_image, "images", "image_features"),
                                ("text", model.encode_text, "tokens", "text_features")]:
        paths[task] = os.path.join(out_dir, f"{task}.onnx")
        with torch.no_grad():
            torch.onnx.export(Tower(fn), (make_inputs(model, task, 2),), paths[task], opset_version=17,
                              input_names=[name], output_names=[out],
                              dynamic_axes={name: {0: "batch"}, out: {0: "batch"}})
    return paths


def load_probe(checkpoint, batch):
    """First load + first encode_image of batch 1; the same again after dropping the model; then
    one image and one text encode of `batch` so the peak RSS covers inference too."""
    results, model = {}, None
    for label in ["first_load_s", "cached_load_s"]:
        model = None  # release the first model before loading again
        start = time.perf_counter()
        model = load_model(checkpoint)
        encode(model, "image", make_inputs(model, "image", 1))
        results[label] = time.perf_counter() - start
    for task in ["image", "text"]:
        encode(model, task, make_inputs(model, task, batch))
    return {**results, "peak_rss_mb": peak_rss_mb()}


def bench(model, name, tasks, batches, min_seconds, min_iters):
    for task in tasks:
        for batch in batches:
            inputs = make_inputs(model, task, batch)
            timed(model, task, inputs)  # warm-up
            seconds = []
            while sum(seconds) < min_seconds or len(seconds) < min_iters:
                seconds.append(timed(model, task, inputs)[0])
            print(json.dumps({"model": name, "impl": "pytorch", "task": task, "precision": "fp32", "batch": batch,
                              "per_s": batch / statistics.median(seconds), "iters": len(seconds)}), flush=True)


def serve(model, reply):
    """One JSON command per stdin line, one JSON reply per command:
    {"cmd": "tokens", "rows": [[...]]}  token rows for text runs (else synthetic ones)
    {"cmd": "run", "task", "batch"}     one timed encode → {"seconds", "shape"}
    {"cmd": "export", "dir"}            → {"paths": {"image", "text"}}
    {"cmd": "rss"}                      → {"peak_rss_mb"}
    {"cmd": "quit"}"""
    token_rows, inputs = None, {}
    reply({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas_libraries()})
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "run":
            key = (cmd["task"], cmd["batch"])
            if key not in inputs:
                inputs[key] = make_inputs(model, cmd["task"], cmd["batch"], token_rows)
            seconds, shape = timed(model, cmd["task"], inputs[key])
            reply({"seconds": seconds, "shape": shape})
        elif cmd["cmd"] == "tokens":
            token_rows, inputs = cmd["rows"], {k: v for k, v in inputs.items() if k[0] != "text"}
            reply({"ok": True})
        elif cmd["cmd"] == "export":
            reply({"paths": export_onnx(model, cmd["dir"])})
        elif cmd["cmd"] == "rss":
            reply({"peak_rss_mb": peak_rss_mb()})
        elif cmd["cmd"] == "quit":
            return
        else:
            reply({"error": f"unknown command {cmd['cmd']!r}"})


def train_step_bench(model, batch, steps):
    """Median seconds of one training step as open_clip runs it: forward both towers in train mode,
    the symmetric contrastive loss, backward, AdamW (torch 1.13), clamp of logit_scale."""
    model.float().train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.2)
    images = make_inputs(model, "image", batch)
    tokens = make_inputs(model, "text", batch)
    labels = torch.arange(batch)
    times = []
    for step in range(steps + 1):  # the first is a warm-up
        start = time.perf_counter()
        img = model.encode_image(images)
        txt = model.encode_text(tokens)
        img = img / img.norm(dim=1, keepdim=True)
        txt = txt / txt.norm(dim=1, keepdim=True)
        logits = model.logit_scale.exp() * img @ txt.t()
        loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if step:
            times.append(time.perf_counter() - start)
    times.sort()
    return {"impl": "pytorch", "batch": batch, "step_ms": round(1000 * times[len(times) // 2]), "steps": steps,
            "peak_rss_mb": round(peak_rss_mb())}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--threads", type=int, default=2)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--bench", action="store_true")
    mode.add_argument("--export", metavar="DIR")
    mode.add_argument("--load-probe", action="store_true")
    mode.add_argument("--serve", action="store_true")
    mode.add_argument("--train-step", type=int, metavar="BATCH", help="median training-step time at this batch")
    parser.add_argument("--steps", type=int, default=3, help="--train-step: timed steps after one warm-up")
    parser.add_argument("--name", help="--bench: the model name in the JSON lines (default: the file name)")
    parser.add_argument("--tasks", default="image,text")
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--min-seconds", type=float, default=3.0)
    parser.add_argument("--min-iters", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32, help="--load-probe: batch of the encodes after loading")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.load_probe:
        print(json.dumps(load_probe(args.checkpoint, args.batch)), flush=True)
        return
    if args.train_step:
        print(json.dumps(train_step_bench(load_model(args.checkpoint), args.train_step, args.steps)), flush=True)
        return
    # Keep stdout for JSON lines only: torch's export warnings go to stderr.
    out = sys.stdout
    sys.stdout = sys.stderr
    reply = lambda obj: print(json.dumps(obj), file=out, flush=True)  # noqa: E731
    model = load_model(args.checkpoint)
    if args.export:
        reply({"paths": export_onnx(model, args.export)})
    elif args.serve:
        serve(model, reply)
    else:
        sys.stdout = out
        bench(model, args.name or os.path.basename(args.checkpoint), args.tasks.split(","),
              [int(b) for b in args.batches.split(",")], args.min_seconds, args.min_iters)


if __name__ == "__main__":
    main()
