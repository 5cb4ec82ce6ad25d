import { ServerClock } from '../../shared/aws/server-clock';

describe("DynamoDB's clock, from its Date headers", () => {
  it('is the host clock until a response is seen', () => {
    const clock = new ServerClock(() => 1_000_000);
    expect(clock.observed).toBe(false);
    expect(clock.lowerBoundMs()).toBe(1_000_000);
  });

  it('corrects a host clock running ahead, never past what the server has certainly reached', () => {
    let local = 10_000_000;
    const clock = new ServerClock(() => local);
    // The host is 5 minutes ahead: the header says 300 s earlier than the host's time of receipt.
    clock.observe(local - 300_000);
    expect(clock.lowerBoundMs()).toBe(local - 300_000);
    local += 2_000;
    expect(clock.lowerBoundMs()).toBe(10_002_000 - 300_000);
  });

  it('keeps the tightest lower bound: a slow response (an older header) does not pull it back', () => {
    const local = 50_000_000;
    const clock = new ServerClock(() => local);
    clock.observe(local - 1_000);
    clock.observe(local - 4_000); // a header generated long before it arrived
    expect(clock.lowerBoundMs()).toBe(local - 1_000);
  });

  it('ignores a header it cannot read', () => {
    const clock = new ServerClock(() => 7);
    clock.observe(Number.NaN);
    expect(clock.observed).toBe(false);
  });
});
