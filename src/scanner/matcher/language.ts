// Language packages: PyPI, npm, Go modules, Maven artifacts. Not tied to a distribution; looked up
// by name (PyPI names normalized per PEP 503 by the store) in their own ecosystem's scheme.
import type { Ecosystem } from '../indexer/types.js';
import type { AdvisoryEcosystem } from '../model.js';
import type { Matcher } from './types.js';

function languageMatcher(name: string, kind: Ecosystem, ecosystem: AdvisoryEcosystem): Matcher {
  return {
    name,
    ecosystem,
    handles: (p) => p.ecosystem === kind,
    distribution: () => null,
    // A package without a version (a GOPATH build's main package) cannot be compared: no lookup.
    lookups: (p) => (p.version ? [{ name: p.name, version: p.version }] : []),
  };
}

export const pypiMatcher = languageMatcher('pypi', 'pypi', 'pep440');
export const npmMatcher = languageMatcher('npm', 'npm', 'npm');
export const goMatcher = languageMatcher('go', 'go', 'go');
export const mavenMatcher = languageMatcher('maven', 'maven', 'maven');
