import type { Attributes } from '../model/attributes';
import type { Runtime } from './cgroup-names';

/** A container's image as its status gives it ("registry/repo:tag", "repo@sha256:...") and its imageID. */
export interface ImageFacts {
  image?: string;
  imageID?: string;
}

const DIGEST = /@(sha256:[0-9a-f]{64})$/;
/** a tag follows the last ':' after the last '/' (a registry's port comes before a '/') */
const TAG = /:([\w][\w.-]{0,127})$/;

/** An image reference split into repository, tag and digest. Pure. */
export function parseImageReference(ref: string): { repository: string; tag?: string; digest?: string } {
  const digest = DIGEST.exec(ref)?.[1];
  let repository = digest ? ref.slice(0, ref.length - digest.length - 1) : ref;
  const tag = TAG.exec(repository.slice(repository.lastIndexOf('/') + 1))?.[1];
  if (tag) repository = repository.slice(0, repository.length - tag.length - 1);
  return { repository, tag, digest };
}

/**
 * The tag of an image reference ("repo:1.4", "host:5000/repo:1.4@sha256:..."), else its digest
 * ("repo@sha256:..."), else the digest of its imageID; undefined when none. Pure.
 */
export function imageVersion(f: ImageFacts): string | undefined {
  const ref = f.image ? parseImageReference(f.image) : undefined;
  return ref?.tag ?? ref?.digest ?? DIGEST.exec(f.imageID ?? '')?.[1];
}

/**
 * container.image.name, .tags and .repo_digests from a container's status,
 * and container.runtime.name from its cgroup's name (only what is known). The
 * repo digest is the imageID when it names a repository ("repo@sha256:...";
 * Docker's "docker-pullable://" prefix removed), else the image's own when it
 * was pulled by digest. Pure.
 */
export function containerImageAttributes(f: ImageFacts, runtime?: Runtime): Attributes {
  const a: Attributes = {};
  let pulledBy: string | undefined;
  if (f.image) {
    const ref = parseImageReference(f.image);
    if (ref.repository) a['container.image.name'] = ref.repository;
    if (ref.tag) a['container.image.tags'] = [ref.tag];
    if (ref.digest) pulledBy = `${ref.repository}@${ref.digest}`;
  }
  const id = f.imageID?.replace(/^[a-z-]+:\/\//, '');
  const digests = new Set([id && DIGEST.test(id) ? id : undefined, pulledBy].filter((d): d is string => d !== undefined));
  if (digests.size) a['container.image.repo_digests'] = [...digests];
  // container.runtime.name (container.runtime is deprecated): the cgroup-name parser's names are its examples'
  if (runtime && runtime !== 'unknown') a['container.runtime.name'] = runtime;
  return a;
}
