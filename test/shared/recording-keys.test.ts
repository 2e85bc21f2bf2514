// The bucket layout both programs rely on.

import { describe, expect, it } from 'vitest';
import { contiguousSegments, parseS3Url, parseSegmentKey, segmentKey } from '../../shared/recording-keys.js';

describe('recording keys', () => {
  it('segment keys sort in file order and parse back', () => {
    const keys = [segmentKey('ws', 'g', 1000, 20000), segmentKey('ws', 'g', 0, 1000), segmentKey('ws', 'g', 20000, 20001)];
    expect([...keys].sort()).toEqual([keys[1], keys[0], keys[2]]);
    expect(parseSegmentKey(keys[0]!)).toEqual({ start: 1000, end: 20000 });
  });

  it('the durable cover starts at 0 and stops at the first hole or damaged segment', () => {
    const seg = (start: number, end: number, size = end - start) => ({ key: segmentKey('ws', 'g', start, end), size });
    expect(contiguousSegments([seg(10, 20), seg(0, 10), seg(30, 40)]).map((s) => s.end)).toEqual([10, 20]);
    expect(contiguousSegments([seg(0, 10), seg(10, 20, 7), seg(20, 30)]).map((s) => s.end)).toEqual([10]);
    expect(contiguousSegments([seg(5, 10)])).toEqual([]);
  });

  it('storage paths are s3:// URLs', () => {
    expect(parseS3Url('s3://bucket/recordings/ws/session.cast')).toEqual({ bucket: 'bucket', key: 'recordings/ws/session.cast' });
    expect(parseS3Url('recordings/ws')).toBeUndefined();
  });
});
