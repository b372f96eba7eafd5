/**
 * Fashion-MNIST as sequences: each 28x28 image is 28 steps (rows) of 28
 * features (pixels), scaled to [0, 1]. Read from the IDX files of Debian's
 * `dataset-fashion-mnist` package or from a given directory (.gz or raw).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NRNMError } from '../errors';
import { InMemoryDataset, toLabels } from './dataset';
import { readIdx } from './idx';
import { checkKeys, oneOf, stringOption } from '../validate';
import { shippedLines } from './shipped';

/** The 10 class names in label order (datasets/fashion-mnist/classes.txt). */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze(shippedLines('fashion-mnist', 'classes.txt'));

/** Where `load()` looks when no directory is given, in order (the Debian package first). */
export function fashionMnistDirs(): string[] {
  const dirs = ['/usr/share/datasets/fashion-mnist'];
  const env = process.env['NRNM_FASHION_MNIST'];
  if (env) dirs.unshift(env);
  dirs.push(path.resolve('datasets', 'fashion-mnist'));
  return dirs;
}

export interface FashionMnistOptions {
  /** A directory with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]. Default: see fashionMnistDirs(). */
  dir?: string;
  /** 'train' (60,000 images) or 'test' (10,000). Default 'train'. */
  part?: 'train' | 'test';
}

function findFile(dir: string, stem: string): string | undefined {
  for (const name of [`${stem}.gz`, stem, stem.replace(/-(idx\d)/, '.$1'), `${stem.replace(/-(idx\d)/, '.$1')}.gz`]) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/** Loads one part of Fashion-MNIST into memory (47 MB of bytes for the training part). */
export function loadFashionMnist(options: FashionMnistOptions = {}): InMemoryDataset {
  checkKeys(options, ['dir', 'part'], 'fashionMnist.load()');
  const part = oneOf('part', options.part, ['train', 'test'] as const, 'train');
  const dirs = options.dir === undefined ? fashionMnistDirs() : [stringOption('dir', options.dir)];
  const prefix = part === 'train' ? 'train' : 't10k';
  for (const dir of dirs) {
    const images = findFile(dir, `${prefix}-images-idx3-ubyte`);
    const labels = findFile(dir, `${prefix}-labels-idx1-ubyte`);
    if (images === undefined || labels === undefined) continue;
    return loadIdxDataset(images, labels, { classes: 10, name: `fashion-mnist/${part}` });
  }
  throw new NRNMError(
    `Fashion-MNIST (${part}) not found: looked for ${prefix}-images-idx3-ubyte[.gz] and ${prefix}-labels-idx1-ubyte[.gz] in ${dirs.join(', ')}. ` +
      `Install it with 'sudo apt-get install dataset-fashion-mnist' (Debian/Ubuntu), or download the four files from ` +
      `https://github.com/zalandoresearch/fashion-mnist and pass their directory (dir option, --data on the command line).`,
    'ERR_NOT_FOUND',
  );
}

/** Any IDX image set (N, rows, cols) of bytes with its IDX labels: rows steps of cols features in [0, 1]. */
export function loadIdxDataset(imagesFile: string, labelsFile: string, options: { classes?: number; name?: string } = {}): InMemoryDataset {
  const images = readIdx(imagesFile);
  const labels = readIdx(labelsFile);
  if (images.shape.length !== 3 || !(images.data instanceof Uint8Array)) {
    throw new NRNMError(`${imagesFile}: expected unsigned-byte images of shape (N, rows, cols) but found shape (${images.shape.join(', ')})`, 'ERR_FORMAT');
  }
  if (labels.shape.length !== 1) throw new NRNMError(`${labelsFile}: expected labels of shape (N) but found shape (${labels.shape.join(', ')})`, 'ERR_FORMAT');
  if (labels.shape[0] !== images.shape[0]) {
    throw new NRNMError(`${labelsFile} has ${labels.shape[0]} labels but ${imagesFile} has ${images.shape[0]} images`, 'ERR_FORMAT');
  }
  const y = toLabels(labels.data, labelsFile);
  const classes = options.classes;
  if (classes !== undefined) {
    const bad = y.findIndex((v) => v >= classes);
    if (bad >= 0)
      throw new NRNMError(`${labelsFile}: label ${y[bad]} of image ${bad} is not below ${classes}, at byte ${8 + bad} of the uncompressed data.`, 'ERR_FORMAT');
  }
  return new InMemoryDataset(images.data, y, {
    steps: images.shape[1]!,
    features: images.shape[2]!,
    ...(classes === undefined ? {} : { classes }),
    scale: 1 / 255,
    name: options.name ?? path.basename(imagesFile),
  });
}
