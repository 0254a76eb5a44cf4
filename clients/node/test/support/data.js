/**
 * Test data: a seeded CSV with a numeric target that depends on the features, and a label derived from it.
 * @module
 */

import { writeFileSync } from 'node:fs';

/**
 * Mulberry32: a small seeded generator of floats in [0, 1).
 * @param {number} seed
 * @returns {() => number}
 */
export function seeded(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const COLORS = Object.freeze(['red', 'green', 'blue']);
const COLOR_EFFECT = Object.freeze({ red: 1, green: 0, blue: -1 });

/**
 * The noise-free target: y = 3*x1 - 2*x2 + (red 1, green 0, blue -1).
 * @param {{x1: number, x2: number, color: string}} row
 */
export function truth({ x1, x2, color }) {
  return 3 * x1 - 2 * x2 + COLOR_EFFECT[color];
}

/**
 * Writes `rows` rows of x1, x2 (uniform in [-2, 2]), color, y (truth plus small noise) and
 * label ("high" when y > 0, else "low"); returns the CSV text.
 * @param {string} file
 * @param {number} rows
 * @param {number} [seed]
 */
export function writeRegressionCsv(file, rows, seed = 7) {
  const random = seeded(seed);
  const lines = ['x1,x2,color,y,label'];
  for (let i = 0; i < rows; i += 1) {
    const row = { x1: random() * 4 - 2, x2: random() * 4 - 2, color: COLORS[Math.floor(random() * 3)] };
    const y = truth(row) + (random() - 0.5) * 0.2;
    lines.push(`${row.x1},${row.x2},${row.color},${y},${y > 0 ? 'high' : 'low'}`);
  }
  const text = `${lines.join('\n')}\n`;
  writeFileSync(file, text);
  return text;
}
