//! Public CA documents: the issuing and root certificates and the root CRL, as the
//! composed certificate authority publishes them.

use super::App;

impl App {
    /// The issuing CA certificate then those above it, the root last (PEM, `/public/ca.pem`).
    pub fn ca_pem(&self) -> String {
        self.ca.ca_pem()
    }

    /// The current issuing CA certificate (DER).
    pub fn ca_der(&self) -> Vec<u8> {
        self.ca.ca_der()
    }

    /// The root certificate (PEM).
    pub fn root_pem(&self) -> String {
        self.ca.root_pem()
    }

    /// The root certificate (DER).
    pub fn root_der(&self) -> Vec<u8> {
        self.ca.root_der()
    }

    /// The root CRL (DER), where the composition has one.
    pub fn root_crl(&self) -> Option<Vec<u8>> {
        self.ca.root_crl()
    }

    /// The issuing CA generations that serve (oldest first).
    pub fn ca_generations(&self) -> Vec<u32> {
        self.ca.generations()
    }

    /// One issuing CA generation's certificate (DER), `None` for an unknown generation.
    pub fn ca_generation_der(&self, generation: u32) -> Option<Vec<u8>> {
        self.ca.generation_der(generation)
    }
}
