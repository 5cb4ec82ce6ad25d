import { emfLine, METRICS_NAMESPACE } from '../../shared/aws/metrics';

describe('embedded metric format', () => {
  it('declares every metric as a count under the namespace, with the dimensions at the root', () => {
    const line = JSON.parse(
      emfLine({ Service: 'dynamo-history', Stage: 'dev' }, { Recorded: 3, Parked: 1 }, 1_700_000_000_000),
    );
    expect(line).toEqual({
      _aws: {
        Timestamp: 1_700_000_000_000,
        CloudWatchMetrics: [
          {
            Namespace: METRICS_NAMESPACE,
            Dimensions: [['Service', 'Stage']],
            Metrics: [
              { Name: 'Recorded', Unit: 'Count' },
              { Name: 'Parked', Unit: 'Count' },
            ],
          },
        ],
      },
      Service: 'dynamo-history',
      Stage: 'dev',
      Recorded: 3,
      Parked: 1,
    });
  });
});
