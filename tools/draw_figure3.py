"""Draw the paper's Figure 3 (VGG-19, plain-34 and ResNet-34 side by side) from the library's models.

    python tools/draw_figure3.py            # writes images/figure3_vgg_plain_resnet.svg

Every box is a layer read off the model itself (kernel, filters, stride), so the drawing cannot drift from
the code. Rows are aligned by output size, as in the paper: the layers that produce a 56x56 map share a band.
Shortcuts are drawn on ResNet-34: solid where they are identities, dashed where a projection (option B)
changes the shape.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from resnet_lib import models

OUT = Path(__file__).resolve().parents[1] / "images" / "figure3_vgg_plain_resnet.svg"
ROW, BOX_H, BOX_W = 19, 15, 156
COLUMNS = {"VGG-19": 150, "34-layer plain": 390, "34-layer residual": 630}
FILL = {64: "#eef3fb", 128: "#dde7f6", 256: "#c9d8f0", 512: "#b3c8ea", 4096: "#f3e3d3", 1000: "#f3e3d3"}


def conv_label(conv: nn.Conv2d) -> str:
    k, s = conv.kernel_size[0], conv.stride[0]
    return f"{k}×{k} conv, {conv.out_channels}" + (", /2" if s == 2 else "")


def vgg_layers(net) -> list[tuple[str, int, int, None]]:
    """(label, output size, channels, None) for VGG-19's weighted layers and pools, on a 224 px image."""
    size, rows = 224, []
    for m in net.features:
        if isinstance(m, nn.Conv2d):
            rows.append((conv_label(m), size, m.out_channels, None))
        elif isinstance(m, nn.MaxPool2d):
            size //= 2
            rows.append(("pool, /2", size, 0, None))
    rows += [(f"fc {m.out_features}", 1, m.out_features, None) for m in net.classifier if isinstance(m, nn.Linear)]
    return rows


def resnet_layers(net) -> list[tuple[str, int, int, str | None]]:
    """The same for ResNet-34 and plain-34; the fourth field marks where a block starts and ends
    ("start", "end identity", "end projection")."""
    rows = [(conv_label(net.conv1), 112, 64, None), ("pool, /2", 56, 0, None)]
    size = 56
    for stage in (net.layer1, net.layer2, net.layer3, net.layer4):
        for block in stage:
            size //= block.conv1.stride[0]
            shortcut = "projection" if getattr(block, "downsample", None) is not None else "identity"
            rows.append((conv_label(block.conv1), size, block.conv1.out_channels, "start"))
            rows.append((conv_label(block.conv2), size, block.conv2.out_channels, f"end {shortcut}"))
    return rows + [("avg pool", 1, 0, None), (f"fc {net.fc.out_features}", 1, 1000, None)]


def draw() -> str:
    columns = {"VGG-19": vgg_layers(models.build("vgg19")),
               "34-layer plain": resnet_layers(models.build("plain34")),
               "34-layer residual": resnet_layers(models.build("resnet34"))}
    for name in ("34-layer plain",):  # no shortcuts on the plain network
        columns[name] = [(label, size, ch, None) for label, size, ch, _ in columns[name]]
    sizes = [224, 112, 56, 28, 14, 7, 1]
    band = {s: max(sum(1 for row in rows if row[1] == s) for rows in columns.values()) for s in sizes}
    top, y_of_band = 78, {}
    for s in sizes:
        y_of_band[s] = top
        top += band[s] * ROW + 14
    height = top + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 800 {height}" width="800" height="{height}" '
           'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11" fill="#222">',
           "<title>VGG-19, a 34-layer plain network and a 34-layer residual network (after Figure 3 of "
           "He et al. 2015), drawn from the library's models</title>",
           '<defs><marker id="a" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="5" markerHeight="5" '
           'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#c0622b"/></marker></defs>',
           f'<rect x="0" y="0" width="800" height="{height}" fill="#ffffff"/>']
    for name, x in COLUMNS.items():
        out.append(f'<text x="{x}" y="30" text-anchor="middle" font-size="14" font-weight="bold">{name}</text>')
        out.append(f'<text x="{x}" y="60" text-anchor="middle" font-size="12" fill="#555">image, 224×224</text>')
    for s in sizes:
        y = y_of_band[s] - 7
        out.append(f'<line x1="8" y1="{y}" x2="792" y2="{y}" stroke="#ccc" stroke-dasharray="3,3"/>')
        out.append(f'<text x="12" y="{y + 14}" font-size="11" fill="#777">output</text>')
        out.append(f'<text x="12" y="{y + 27}" font-size="11" fill="#777">{s}×{s}</text>')
    for name, rows in columns.items():
        x = COLUMNS[name]
        placed = {s: 0 for s in sizes}
        start_y = None
        for label, s, ch, mark in rows:
            y = y_of_band[s] + placed[s] * ROW
            placed[s] += 1
            fill = FILL.get(ch, "#f0f0f0")
            out.append(f'<rect x="{x - BOX_W / 2}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="3" fill="{fill}" '
                       f'stroke="#5a6f90" stroke-width="0.8"/>')
            out.append(f'<text x="{x}" y="{y + 11}" text-anchor="middle">{label}</text>')
            if mark == "start":
                start_y = y
            elif mark and mark.startswith("end"):
                dash = ' stroke-dasharray="4,3"' if mark.endswith("projection") else ""
                right = x + BOX_W / 2
                y0, y1 = start_y - 2, y + BOX_H + 1
                out.append(f'<path d="M{right},{y0} C{right + 22},{y0} {right + 22},{y1} {right + 2},{y1}" '
                           f'fill="none" stroke="#c0622b" stroke-width="1.3"{dash} marker-end="url(#a)"/>')
    out.append(f'<text x="400" y="{height - 18}" text-anchor="middle" font-size="12" fill="#555">shortcuts: '
               'solid, identity; dashed, projection (1×1 conv, /2) where the shape changes (option B)</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    OUT.write_text(draw())
    print(f"wrote {OUT}")
