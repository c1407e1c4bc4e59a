import { useEffect, useRef } from 'react';
import type { BoxXYWH, RgbImage } from '../core/types.ts';

/** Draws an RGB image (or one box of it) on a canvas; CSS sizes it. */
export function RgbCanvas({ image, box, className, label }: { image: RgbImage; box?: BoxXYWH; className?: string; label: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const [x, y, w, h] = box ?? [0, 0, image.width, image.height];
  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    if (!ctx) return;
    const rgba = new Uint8ClampedArray(w * h * 4);
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        const s = ((y + r) * image.width + (x + c)) * 3;
        const d = (r * w + c) * 4;
        rgba[d] = image.data[s];
        rgba[d + 1] = image.data[s + 1];
        rgba[d + 2] = image.data[s + 2];
        rgba[d + 3] = 255;
      }
    }
    ctx.putImageData(new ImageData(rgba, w, h), 0, 0);
  }, [image, x, y, w, h]);
  return <canvas ref={ref} width={w} height={h} className={className} role="img" aria-label={label} />;
}
