"""Build the digits instance-segmentation demo set (COCO format, optional VOC copy).

Example:
    python tools/dataset_converters/make_digits_demo.py data/digits_demo --voc
"""
import argparse
import json
import os

if 'OMP_WAIT_POLICY' not in os.environ:  # the thread policy, before torch loads OpenMP
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'  # (ba2m_mm.thread_policy.THREAD_ENV)

import ba2m_mm  # registers the models and hooks
from ba2m_mm.datasets import build_digits_coco


def parse_args():
    parser = argparse.ArgumentParser(
        description='Write the offline digits demo set (scikit-learn load_digits scans pasted '
        'onto textured canvases) in COCO instance-segmentation format.')
    parser.add_argument('out', help='output directory, e.g. data/digits_demo')
    parser.add_argument('--num-train', type=int, default=600, help='training images')
    parser.add_argument('--num-val', type=int, default=150, help='validation images')
    parser.add_argument('--image-size', type=int, default=128, help='square canvas side (px)')
    parser.add_argument(
        '--digits-per-image',
        type=int,
        nargs=2,
        default=(2, 5),
        metavar=('MIN', 'MAX'),
        help='digits tried per image')
    parser.add_argument(
        '--digit-size',
        type=int,
        nargs=2,
        default=(20, 44),
        metavar=('MIN', 'MAX'),
        help='digit height range (px)')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--voc', action='store_true', help='also write a Pascal VOC copy under OUT/VOC2007')
    parser.add_argument('--no-progress', action='store_true', help='hide progress bars')
    return parser.parse_args()


def main():
    ba2m_mm.setup_runtime()  # thread policy, safe checkpoint loading
    args = parse_args()
    summary = build_digits_coco(
        args.out,
        num_train=args.num_train,
        num_val=args.num_val,
        image_size=args.image_size,
        digits_per_image=tuple(args.digits_per_image),
        digit_size=tuple(args.digit_size),
        seed=args.seed,
        voc=args.voc,
        progress=not args.no_progress)
    print(json.dumps(summary, indent=2))


if __name__ == '__main__':
    main()
