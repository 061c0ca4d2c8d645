#!/usr/bin/env python3
"""One CLIP training step's gradients in PyTorch, in float64 and float32, for accuracy checks.

  train_grads.py CHECKPOINT BATCH OUT [--threads N]

CHECKPOINT: a state dict (torch zip) of an OpenAI-architecture CLIP; BATCH: a torch zip holding
`images` float32 [B, 3, R, R] and `tokens` int [B, L]. Builds the model with clip_reference.py's
copy of openai/CLIP's model.py, in train mode (BatchNorm on batch statistics), runs the symmetric
contrastive loss and its backward pass twice, once with every tensor in float64 and once in
float32, and writes OUT (torch.save of a dict): `f64.<param>` and `f32.<param>` gradients, and
`f64.loss`, `f32.loss`. bench/resnet-grads.ts drives it and compares clip-ts's float32 gradients.
"""
import argparse
import copy

import torch
import torch.nn.functional as F

from clip_reference import build_model


def step_gradients(model, images, tokens, dtype):
    model = copy.deepcopy(model).to(dtype).train()
    img = model.encode_image(images.to(dtype))
    txt = model.encode_text(tokens)
    img = img / img.norm(dim=1, keepdim=True)
    txt = txt / txt.norm(dim=1, keepdim=True)
    logits = model.logit_scale.exp() * img @ txt.t()
    labels = torch.arange(images.shape[0])
    loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
    loss.backward()
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("batch")
    parser.add_argument("out")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = build_model(torch.load(args.checkpoint, map_location="cpu"))
    batch = torch.load(args.batch, map_location="cpu")
    images, tokens = batch["images"].float(), batch["tokens"].long()
    out = {}
    for tag, dtype in (("f64", torch.float64), ("f32", torch.float32)):
        loss, grads = step_gradients(model, images, tokens, dtype)
        out[f"{tag}.loss"] = loss
        out.update({f"{tag}.{name}": g for name, g in grads.items()})
    torch.save(out, args.out)


if __name__ == "__main__":
    main()
