/** CloudWatch namespace of dynamo-history's own metrics. */
export const METRICS_NAMESPACE = 'DynamoHistory';

/**
 * One log line in CloudWatch Embedded Metric Format: Lambda's log pipeline turns
 * it into metrics with no API call on the hot path. All metrics are counts.
 */
export function emfLine(
  dimensions: Record<string, string>,
  metrics: Record<string, number>,
  timestamp = Date.now(),
): string {
  return JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [Object.keys(dimensions)],
          Metrics: Object.keys(metrics).map((Name) => ({ Name, Unit: 'Count' })),
        },
      ],
    },
    ...dimensions,
    ...metrics,
  });
}
