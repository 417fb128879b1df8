/**
 * The demo shop's events (see benchmarks/generator): what features may read and with which types.
 * A feature reading an event or a property not declared here fails `tessera features validate`.
 */
import { defineEvents } from '../dsl.ts';

const product = { product_id: 'string', category: 'string', price: 'float' } as const;

export default defineEvents({
  track: {
    'Session Started': { session_id: 'string' },
    'Product Viewed': product,
    'Product Added': { ...product, quantity: 'int' },
    'Checkout Started': { value: 'float', currency: 'string', products: 'json' },
    'Order Completed': { order_id: 'string', revenue: 'float', currency: 'string', category: 'string', products: 'json' },
    'Signed Up': { plan: 'string' },
  },
  page: { names: ['Home', 'Category', 'Product', 'Sign Up', 'Login', 'Account'], properties: { path: 'string', url: 'string', category: 'string' } },
  screen: { names: ['Home', 'Category', 'Product', 'Sign Up', 'Login', 'Account'], properties: { category: 'string', product_id: 'string' } },
  identify: { email: 'string', first_name: 'string', phone: 'string', plan: 'string', created_at: 'timestamp' },
  context: { 'device.id': 'string', 'device.type': 'string', 'library.name': 'string', 'library.version': 'string' },
});
