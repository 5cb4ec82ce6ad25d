import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/**
 * Collects placeholders for one expression set. Every attribute name and value
 * goes through it, so no caller string is ever spliced into an expression.
 */
export class ExpressionBuilder {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, AttributeValue> = {};
  private readonly nameIndex = new Map<string, string>();
  private valueCount = 0;

  name(attribute: string): string {
    let placeholder = this.nameIndex.get(attribute);
    if (!placeholder) {
      placeholder = `#n${this.nameIndex.size}`;
      this.nameIndex.set(attribute, placeholder);
      this.names[placeholder] = attribute;
    }
    return placeholder;
  }

  value(value: AttributeValue): string {
    const placeholder = `:v${this.valueCount++}`;
    this.values[placeholder] = value;
    return placeholder;
  }

  /** The `ExpressionAttributeValues` to send: omitted when empty, as DynamoDB requires. */
  valuesOrUndefined(): Record<string, AttributeValue> | undefined {
    return this.valueCount > 0 ? this.values : undefined;
  }
}
