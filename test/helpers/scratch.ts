/**
 * The environment variable naming a scratch folder that test/global-setup.ts creates for one test run and removes
 * after it: for what is costly to make and the same in every file of the run (e.g. an initdb'd PostgreSQL data
 * folder, test/helpers/pg-cluster.ts). Nothing a test asserts on lives there.
 */
export const SCRATCH_DIR_ENV = 'INGESTA_TEST_SCRATCH_DIR';
