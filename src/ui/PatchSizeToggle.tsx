import { useAppStore, type PatchSize } from '../state/store.ts';

const SIZES: PatchSize[] = [28, 56];

export function PatchSizeToggle() {
  const size = useAppStore((s) => s.view.patchSize);
  const setSize = useAppStore((s) => s.setPatchSize);
  return (
    <fieldset className="toggle" role="radiogroup" aria-label="Patch size">
      <legend>Patch size</legend>
      {SIZES.map((s) => (
        <label key={s}>
          <input type="radio" name="patch-size" value={s} checked={size === s} onChange={() => setSize(s)} />
          {s}
        </label>
      ))}
    </fieldset>
  );
}
