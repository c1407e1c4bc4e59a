"""RRFNet: a face embedding whose every patch feature sees only its own patch.

The 112x112 aligned face is cut into patches explicitly (a reshape, so patch i is batch item i)
and each patch goes through the same convolutional trunk on its own, then through a
per-position linear head. Nothing mixes patches before the head output: no padding across
patch borders, no normalisation over space or batch, no attention. Faithfulness is therefore
structural, and tests on the exported ONNX file check it bit for bit.

The trunk starts from the full-face teacher's own weights (face-api's port of dlib's ResNet),
with each scale layer folded into its convolution and the 'valid' stride-2 convolutions made
'same' so the trunk runs on 28 or 56 px patches. The descriptor is the mean of the patch
features, and S(x, y) = cos(mean a_i, mean b_j) decomposes exactly into patch contributions.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..faceapi.recognition import LAYERS, MEAN_RGB
from ..faceapi.tfjs_weights import load_tfjs_weights

ROOT = Path(__file__).resolve().parents[2]

FACE_SIZE = 112
TEACHER_WEIGHTS = ROOT / "node_modules" / "@vladmandic" / "face-api" / "model"


def grid_boxes(patch: int, stride: int | None = None, size: int = FACE_SIZE) -> list[list[int]]:
    """Patch boxes [x, y, w, h], row-major, in aligned-face pixels."""
    stride = stride or patch
    starts = list(range(0, size - patch + 1, stride))
    return [[x, y, patch, patch] for y in starts for x in starts]


class ConvUnit(nn.Module):
    """conv + folded scale layer (+ ReLU)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, relu: bool):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=True)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return F.relu(x) if self.relu else x


class Residual(nn.Module):
    def __init__(self, cin: int, cout: int, down: bool):
        super().__init__()
        self.down = down
        self.extra = cout - cin
        self.conv1 = ConvUnit(cin, cout, 3, 2 if down else 1, True)
        self.conv2 = ConvUnit(cout, cout, 3, 1, False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        if self.down:
            # ceil_mode keeps the shortcut the size of the padded stride-2 conv on odd sizes.
            x = F.avg_pool2d(x, 2, 2, ceil_mode=True)
            if self.extra:
                x = F.pad(x, (0, 0, 0, 0, 0, self.extra))
        return F.relu(out + x)


def _channels(name: str) -> int:
    return int(name[4:].split("_")[0])


def flip_faces(faces: torch.Tensor) -> torch.Tensor:
    """[N, 3, 112, 112] mirrored left-right; index_select rather than flip, since it exports to ONNX
    as a plain Gather (over constant indices: the face size is fixed, not read from the input)."""
    return faces.index_select(3, torch.arange(FACE_SIZE - 1, -1, -1, device=faces.device))


class RRFNet(nn.Module):
    def __init__(
        self,
        patch: int,
        stride: int | None = None,
        dim: int = 128,
        mirror: bool = False,
        input_size: int | None = None,
        constant: bool = False,
    ):
        super().__init__()
        self.patch = patch
        # input_size: each cut patch is resized (bilinear, on its own pixels only) to this size
        # before the trunk. The trunk downsamples 64-fold, so at 28 or 56 px its last stages see
        # a single position; a larger input brings the patch nearer the teacher's own scale.
        self.input_size = input_size or patch
        self.boxes = grid_boxes(patch, stride)
        self.stride = stride or patch
        # mirror: each patch feature is the mean of the patch's own feature and that of its mirror
        # image read as the patch at the mirrored position. Still a function of patch i alone, and
        # the descriptor becomes the mean of the face's and its mirror image's descriptors.
        self.mirror = mirror
        where = {tuple(b): i for i, b in enumerate(self.boxes)}
        mirrored = [where.get((FACE_SIZE - x - w, y, w, h)) for x, y, w, h in self.boxes]
        if mirror and None in mirrored:
            raise ValueError(
                f"the patch grid (patch {patch}, stride {self.stride}) is not left-right symmetric"
            )
        self.register_buffer(
            "mirror_position", torch.tensor([m or 0 for m in mirrored]), persistent=False
        )
        self.num_patches = len(self.boxes)
        self.dim = dim
        self.stem = ConvUnit(3, 32, 7, 2, True)
        blocks = []
        cin = 32
        for name, down in LAYERS:
            cout = _channels(name)
            blocks.append(Residual(cin, cout, down))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        # One linear head per patch position: [P, 256, dim].
        self.heads = nn.Parameter(torch.zeros(self.num_patches, cin, dim))
        # constant: every patch feature gains one more coordinate, the same number c for every patch
        # and face (fit_constant.py). The descriptor becomes [A, c], and the score
        # (<A, B> + c^2) / sqrt((|A|^2 + c^2)(|B|^2 + c^2)): the cosine of two faces whose patches
        # agree (a long mean A) is kept, that of faces whose patches disagree is drawn towards a
        # middle value. A constant depends on no pixel, so feature i still sees only patch i, and
        # the score is still the mean-cosine of patch features, decomposing exactly.
        self.constant = nn.Parameter(torch.zeros(1)) if constant else None
        self.out_dim = dim + (1 if constant else 0)

    @staticmethod
    def from_checkpoint(state: dict, mirror: bool = False) -> "RRFNet":
        """The network a checkpoint (``load_checkpoint``) holds, built from the run's own arguments."""
        targs = state["args"]
        model = RRFNet(
            int(targs["patch"]),
            saved_int(targs, "stride"),
            mirror=mirror,
            input_size=saved_int(targs, "input_size"),
            constant="constant" in state["model"],
        )
        model.load_state_dict(state["model"])
        return model

    @staticmethod
    def of_manifest_entry(entry: dict, mirror: bool = False) -> "RRFNet":
        """The untrained network a manifest entry describes: its patch grid and size inside the graph."""
        return RRFNet(
            entry["patchSize"],
            entry["stride"],
            mirror=mirror,
            input_size=entry.get("patchInputSize"),
            constant=entry.get("constant") is not None,
        )

    @torch.no_grad()
    def load_weights(self, state: dict, boxes: list[list[int]]) -> None:
        """Loads another run's weights, whose heads belong to ``boxes``.

        The trunk is shared by every position, so it carries over to any grid. A head carries over
        where the box is the same; a position the source never had starts at zero. Its feature is
        then 0, and since the descriptor is the mean of the features and only its direction
        matters, the new grid starts out as exactly the source model.
        """
        state = dict(state)
        source = state.pop("heads")
        # A constant coordinate is fitted after training (fit_constant.py), and distillation cannot
        # move it (its loss is blind to the descriptor's length): a run from such weights trains without.
        state.pop("constant", None)
        result = self.load_state_dict(state, strict=False)
        if result.unexpected_keys or result.missing_keys != ["heads"]:
            raise ValueError(f"weights do not fit this trunk: {result}")
        where = {tuple(b): i for i, b in enumerate(boxes)}
        self.heads.zero_()
        for i, box in enumerate(self.boxes):
            if tuple(box) in where:
                self.heads[i] = source[where[tuple(box)]]

    def cut_patches(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 3, 112, 112] -> [N * P, 3, patch, patch], patch i of face n at n * P + i."""
        n = x.shape[0]
        if self.stride == self.patch:
            g = FACE_SIZE // self.patch
            p = x.reshape(n, 3, g, self.patch, g, self.patch).permute(0, 2, 4, 1, 3, 5)
            return p.reshape(n * self.num_patches, 3, self.patch, self.patch)
        crops = [x[:, :, y : y + h, bx : bx + w] for bx, y, w, h in self.boxes]
        return torch.stack(crops, 1).reshape(n * self.num_patches, 3, self.patch, self.patch)

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        """faces: [N, 3, 112, 112], normalised (px - MEAN_RGB) / 255. Returns [N, P, dim]."""
        if not self.mirror:
            return self.patch_features(faces)
        n = faces.shape[0]
        both = self.patch_features(torch.cat([faces, flip_faces(faces)]))
        # Patch i of the face, mirrored, sits at mirror_position[i] of the flipped face.
        return 0.5 * (both[:n] + both[n:].index_select(1, self.mirror_position))

    def patch_features(self, faces: torch.Tensor) -> torch.Tensor:
        n = faces.shape[0]
        x = self.trunk_features(faces).unsqueeze(2)  # [N, P, 1, 256]
        features = torch.matmul(x, self.heads).reshape(n, self.num_patches, self.dim)
        if self.constant is None:
            return features
        return torch.cat([features, self.constant.expand(n, self.num_patches, 1)], 2)

    def mirrored_trunk_features(self, faces: torch.Tensor) -> torch.Tensor:
        """[N, 3, 112, 112] -> [N, P, 256]: g_j = (f_j(x) + f_j(flip x)) / 2, position by position.

        With the mirror the descriptor is (1/P) sum_i (H_i f_i(x) + H_m(i) f_m(i)(flip x)) / 2, and m
        is a permutation of the positions, so it equals (1/P) sum_j H_j g_j: pairing each position
        with itself (not with m(j), as forward() must for the per-patch features) is exact for the
        descriptor, which is what a refit of the heads needs."""
        n = faces.shape[0]
        both = self.trunk_features(torch.cat([faces, flip_faces(faces)]))
        return 0.5 * (both[:n] + both[n:])

    def trunk_features(self, faces: torch.Tensor) -> torch.Tensor:
        """[N, 3, 112, 112] -> [N, P, 256]: each patch through the shared trunk, averaged over its
        pixels (patch i of face n at n * P + i before the mean)."""
        x = self.cut_patches(faces)
        if self.input_size != self.patch:
            x = F.interpolate(
                x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False
            )
        x = self.stem(x)
        x = F.max_pool2d(x, 3, 2, padding=1)
        for block in self.blocks:
            x = block(x)
        return x.mean(dim=(2, 3)).reshape(-1, self.num_patches, x.shape[1])

    @torch.no_grad()
    def init_from_teacher(self, weights_dir: Path = TEACHER_WEIGHTS) -> None:
        w = load_tfjs_weights(weights_dir, "face_recognition_model")

        def load(unit: ConvUnit, prefix: str) -> None:
            f = torch.from_numpy(w[f"{prefix}/conv/filters"]).permute(
                3, 2, 0, 1
            )  # -> [out, in, kh, kw]
            b = torch.from_numpy(w[f"{prefix}/conv/bias"])
            sw = torch.from_numpy(w[f"{prefix}/scale/weights"])
            sb = torch.from_numpy(w[f"{prefix}/scale/biases"])
            unit.conv.weight.copy_(f * sw.reshape(-1, 1, 1, 1))
            unit.conv.bias.copy_(b * sw + sb)

        load(self.stem, "conv32_down")
        for block, (name, _) in zip(self.blocks, LAYERS):
            load(block.conv1, f"{name}/conv1")
            load(block.conv2, f"{name}/conv2")
        fc = torch.from_numpy(w["fc"])  # [256, 128]
        if fc.shape[1] != self.dim:
            raise ValueError(f"teacher fc has {fc.shape[1]} outputs, student dim is {self.dim}")
        self.heads.copy_(fc.unsqueeze(0).expand(self.num_patches, -1, -1))


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict:
    """A checkpoint this project wrote. weights_only=False: PyTorch 2.6 and later default to True,
    which refuses what the files hold besides tensors (numpy scores, the generator state)."""
    return torch.load(path, map_location=device, weights_only=False)


# What may have changed a checkpoint's weights after training, newest first, each recorded under
# its key with whether it fitted the mirrored descriptor.
WEIGHT_CHANGES = (("constant", "given a constant coordinate"), ("refit", "refitted"))


def mirror_mismatch(state: dict, mirror: bool) -> tuple[str, bool] | None:
    """A change to the checkpoint's weights fitted on the other descriptor than the one about to be
    used (with or without the mirror), which is untested on it: how it changed them and whether it
    had the mirror; None when there is none."""
    for key, how in WEIGHT_CHANGES:
        changed = state.get(key)
        if changed and changed["mirror"] != mirror:
            return how, changed["mirror"]
    return None


def saved_int(targs: dict[str, str], key: str) -> int | None:
    """An optional integer argument as a checkpoint stores it (a string, "None" when unset)."""
    value = targs.get(key)
    return None if value in (None, "None") else int(value)


def descriptor(patch_features: torch.Tensor) -> torch.Tensor:
    """The face descriptor A = mean_i a_i."""
    return patch_features.mean(dim=1)


def count_macs(model: RRFNet) -> int:
    """Multiply-accumulates per face (convolutions and heads), by tracing one forward pass."""
    macs = 0

    def hook(mod: nn.Module, inp, out) -> None:
        nonlocal macs
        if isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * (mod.in_channels // mod.groups)
            macs += out.numel() * k

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, FACE_SIZE, FACE_SIZE, device=model.heads.device))
    for h in handles:
        h.remove()
    return macs + (2 if model.mirror else 1) * model.num_patches * model.heads.shape[1] * model.dim


MEAN = MEAN_RGB
SCALE = 1 / 255
