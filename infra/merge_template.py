"""Print the CloudFormation fragment `chalice package --merge-template` merges into its output.

What Chalice cannot express itself, for one stage:
- the checker's SQS event source reports partial batch failures (ReportBatchItemFailures), so one
  poisoned message is retried alone;
- the Slack function retries an event twice, then sends it to the notify dead-letter queue
  (its failure destination) instead of dropping it.

    python infra/merge_template.py prod > build/merge-prod.json
"""

from __future__ import annotations

import json
import sys


def merge_template(stage: str) -> dict[str, object]:
    notify_dlq = f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:certwatch-{stage}-notify-dlq"
    return {
        "Resources": {
            "Checker": {
                "Properties": {
                    "Events": {
                        "CheckerSqsEventSource": {"Properties": {"FunctionResponseTypes": ["ReportBatchItemFailures"]}}
                    }
                }
            },
            "Slack": {
                "Properties": {
                    "EventInvokeConfig": {
                        "MaximumRetryAttempts": 2,
                        "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": {"Fn::Sub": notify_dlq}}},
                    }
                }
            },
        }
    }


if __name__ == "__main__":
    print(json.dumps(merge_template(sys.argv[1] if len(sys.argv) > 1 else "dev"), indent=2))
