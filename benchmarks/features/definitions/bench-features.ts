/** The 20 features of the features benchmark (benchmarks/features/run.ts), all over events. */
import { allEvents, avg, count, defineEvents, defineFeatures, distinctCount, events, exists, identifies, last, max, min, mostFrequent, sum } from '../../../features/dsl.ts';

export const catalog = defineEvents({
  track: {
    'Session Started': { session_id: 'string' },
    'Product Viewed': { product_id: 'string', category: 'string', price: 'float' },
    'Product Added': { product_id: 'string', category: 'string', price: 'float' },
    'Order Completed': { product_id: 'string', category: 'string', price: 'float', revenue: 'float' },
  },
  page: { names: ['Product'], properties: { path: 'string', url: 'string', category: 'string' } },
  identify: { plan: 'string', email: 'string' },
  context: { 'device.id': 'string', 'device.type': 'string', 'library.name': 'string' },
});

const orders = events('Order Completed');
const sessions = events('Session Started');
const views = events('Product Viewed');

export default defineFeatures({
  owner: 'bench',
  features: {
    orders_30d: { description: 'Orders, last 30 days', type: 'int', from: orders, aggregate: count(), window: '30d' },
    orders_lifetime: { description: 'Orders', type: 'int', from: orders, aggregate: count() },
    revenue_30d: { description: 'Revenue, last 30 days', type: 'float', from: orders, aggregate: sum('properties.revenue'), window: '30d', default: 0 },
    revenue_lifetime: { description: 'Revenue', type: 'float', from: orders, aggregate: sum('properties.revenue'), default: 0 },
    average_order_value: { description: 'Average revenue per order', type: 'float', from: orders, aggregate: avg('properties.revenue') },
    largest_order: { description: 'Largest order', type: 'float', from: orders, aggregate: max('properties.revenue') },
    first_order_at: { description: 'First order', type: 'timestamp', from: orders, aggregate: min('timestamp') },
    last_order_at: { description: 'Latest order', type: 'timestamp', from: orders, aggregate: max('timestamp') },
    last_seen_at: { description: 'Latest call', type: 'timestamp', from: allEvents(), aggregate: max('timestamp') },
    first_seen_at: { description: 'First call', type: 'timestamp', from: allEvents(), aggregate: min('timestamp') },
    sessions_7d: { description: 'Sessions, last 7 days', type: 'int', from: sessions, aggregate: count(), window: '7d' },
    sessions_30d: { description: 'Sessions, last 30 days', type: 'int', from: sessions, aggregate: count(), window: '30d' },
    product_views_30d: { description: 'Product views, last 30 days', type: 'int', from: views, aggregate: count(), window: '30d' },
    distinct_products_viewed: { description: 'Distinct products viewed', type: 'int', from: views, aggregate: distinctCount('properties.product_id') },
    cart_adds: { description: 'Products added to a cart', type: 'int', from: events('Product Added'), aggregate: count() },
    has_ordered: { description: 'Ordered at least once', type: 'bool', from: orders, aggregate: exists() },
    favourite_category: { description: 'Most viewed category', type: 'string', from: views, aggregate: mostFrequent('properties.category') },
    last_order_category: { description: 'Category of the latest order', type: 'string', from: orders, aggregate: last('properties.category') },
    plan: { description: 'Plan of the latest identify', type: 'string', from: identifies(), aggregate: last('traits.plan') },
    last_device_type: { description: 'Device type of the latest call', type: 'string', from: allEvents(), aggregate: last('context.device.type') },
  },
});
