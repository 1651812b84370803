"""Print a SAM template as CloudFormation JSON, after the SAM transform.

Usage: python3 samtransform.py TEMPLATE

It runs the transform the way cfn-lint runs it before linting (cfn-lint's
wrapper around the AWS SAM translator, with its table of managed policy
names), so a test sees the roles, policies and event source mappings SAM
would deploy. Exit status: 0 with the JSON on stdout; 3 when cfn-lint is not
importable by this interpreter; 2 when the template does not parse or
transform (the reasons on stderr).
"""

import json
import sys

try:
    from cfnlint.decode import decode
    from cfnlint.template.transforms._sam import Transform
except ImportError as err:  # cfn-lint absent, or a version without these
    print(f"cfn-lint is not importable by {sys.executable}: {err}", file=sys.stderr)
    sys.exit(3)


def main(path):
    template, matches = decode(path)
    if matches:
        for m in matches:
            print(m, file=sys.stderr)
        return 2
    # The region only picks the partition of the ARNs SAM writes.
    transform = Transform(path, template, "us-east-1")
    matches = transform.transform_template()
    if matches:
        for m in matches:
            print(m, file=sys.stderr)
        return 2
    json.dump(transform.template(), sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: samtransform.py TEMPLATE", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
